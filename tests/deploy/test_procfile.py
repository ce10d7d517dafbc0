"""The Procfile runs under honcho as the README's "Production" says, and stops cleanly.

Two servers and two workers (``-c web=2,worker=2``) from the checkout's ``Procfile``, on a
stack of their own; the scheduler process is not started here (``manage.py scheduler`` is
its own command's business).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import requests

from tests.jobqueue.stackdb import enqueue, job, wait_state
from tests.support import ROOT, LiveStack, free_port, wait_for

SLEEP = "tests.jobqueue.jobs.SleepJob"
VENV_BIN = Path(sys.executable).parent
HONCHO = shutil.which("honcho", path=str(VENV_BIN)) or shutil.which("honcho")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(HONCHO is None, reason="honcho not installed (requirements-dev.txt)"),
]


def two_free_ports() -> int:
    """A port ``p`` with ``p + 1`` free too (honcho numbers web.1, web.2 from ``-p``)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")


def test_procfile_under_honcho(live_stack):
    stack = live_stack
    # honcho SIGKILLs what still runs 5 s after its SIGTERM: the README's grace under honcho
    stack.env.update(CORE4_WORKER_DAILY_COMMANDS="nosuchcommand", CORE4_WORKER_GRACE="3")
    port = two_free_ports()
    log = stack.tmp / "honcho.log"
    env = {**stack.env, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    with log.open("w") as out:
        honcho = subprocess.Popen(
            [HONCHO, "start", "-f", "Procfile", "-p", str(port), "-c", "web=2,worker=2",
             "web", "worker"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    stack.processes.append(("honcho", honcho))  # stopped with the stack if the test fails

    def answers(url: str):
        if honcho.poll() is not None:
            raise AssertionError(f"honcho exited {honcho.returncode}:\n{log.read_text()}")
        with contextlib.suppress(requests.ConnectionError):
            return requests.get(url + "/core4/api/v1/login", timeout=2).status_code
        return None

    servers = [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"]
    for url in servers:
        wait_for(lambda u=url: answers(u), 60, 0.2, f"{url} did not answer:\n{log.read_text()}")
    stack.base_url = servers[1]
    headers = {"Authorization": "Bearer " + stack.login()}

    def alive():
        answers(servers[0])
        reply = requests.get(servers[0] + "/core4/api/v1/system", headers=headers, timeout=10)
        return sorted(w["identifier"] for w in reply.json()["data"]["alive"])

    host = socket.gethostname()
    wait_for(
        lambda: alive() == [f"worker.1@{host}", f"worker.2@{host}"],
        60,
        0.2,
        f"the two workers did not report:\n{log.read_text()}",
    )
    cut_off = enqueue(stack, SLEEP, "sleep=120")
    wait_state(stack, cut_off, "running")
    children = psutil.Process(honcho.pid).children(recursive=True)
    assert len(children) >= 4

    # SIGTERM to honcho alone (a Ctrl-C in its terminal reaches honcho only): it passes it on;
    # the worker's grace ends before honcho's SIGKILL, so the cut-off job is settled
    os.kill(honcho.pid, signal.SIGTERM)
    honcho.wait(60)
    _, left = psutil.wait_procs(children, timeout=30)
    assert not left, f"left running: {left}\n{log.read_text()}"
    text = log.read_text()
    assert f"start worker [worker.1@{host}]" in text and f"start worker [worker.2@{host}]" in text
    assert LiveStack.terminate(honcho) is not None
    settled = job(stack, cut_off)
    assert settled["state"] == "failed", settled  # retried later; the attempt did not count
    assert "grace period of 3 s over" in str(settled["last_error"])
