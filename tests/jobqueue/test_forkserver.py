"""The fork server keeps one job process forked ahead (the spare): a ``spawn`` hands it the
job instead of forking on the pick-up path. The spare runs exactly one job, is replaced
after it, is never reported as a job's exit, and leaves with the server — also when the
server is SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import tempfile

import psutil
import pytest

from jobqueue import services
from jobqueue.forkserver import ForkServer
from jobqueue.models import Job
from jobqueue.processes import job_data
from tests.support import alive, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

NOOP = "jobqueue.jobs.example.NoopJob"


@pytest.fixture
def server():
    forkserver = ForkServer()
    yield forkserver
    forkserver.close()


def _children(server: ForkServer) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(server.pid).children() if alive(p.pid)]
    except psutil.NoSuchProcess:
        return []


def _spare(server: ForkServer, other_than: int | None = None) -> int:
    def one():
        pids = [pid for pid in _children(server) if pid != other_than]
        return pids[0] if len(pids) == 1 else None

    return wait_for(one, 30, message="no spare job process")


def _run(server: ForkServer, job: Job) -> list[dict]:
    """Spawn ``job`` and read its reports until ``done``."""
    read_fd, write_fd = os.pipe()
    output = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    try:
        server.spawn(job_data(job), write_fd, output.fileno())
        os.close(write_fd)
        data = b""
        while chunk := os.read(read_fd, 65536):
            data += chunk
    finally:
        os.close(read_fd)
        output.close()
    return [json.loads(line) for line in data.decode().splitlines()]


def test_a_job_runs_in_the_spare_and_a_new_spare_follows(server):
    spare = _spare(server)
    reports = _run(server, services.enqueue(NOOP, n=1))
    assert reports[0] == {"kind": "started", "pid": spare}
    assert reports[-1]["kind"] == "done" and reports[-1]["outcome"] == "complete"
    wait_for(lambda: (server.poll(), server.pids)[1], 10)
    assert server.pids == [spare]  # the pid reply names the spare
    successor = _spare(server, other_than=spare)
    assert successor != spare
    wait_for(lambda: (server.poll(), spare in server.exits)[1], 10)  # the job's exit: reported
    reports = _run(server, services.enqueue(NOOP, n=2))
    assert reports[0]["pid"] == successor


def test_a_spare_that_dies_is_replaced_and_never_reported(server):
    spare = _spare(server)
    os.kill(spare, signal.SIGKILL)
    successor = _spare(server, other_than=spare)
    assert successor != spare
    server.poll()
    assert spare not in server.exits  # no job of the worker's ended
    assert _run(server, services.enqueue(NOOP))[0]["pid"] == successor


@pytest.mark.parametrize("end", ["close", "sigkill"])
def test_the_spare_leaves_with_the_server(end):
    server = ForkServer()
    spare = _spare(server)
    if end == "close":
        server.close()  # the worker stops: its end of the socket closes
    else:
        os.kill(server.pid, signal.SIGKILL)  # its socket closes with it
        server.close()
    wait_for(lambda: not alive(spare), 10, message="the spare outlived its server")
