"""The embedded default's shared Redis: started by the first product process that needs it,
stopped after the last one exits — whether the product runs under ``manage.py up`` or as
separate plain commands (``daphne …``, ``manage.py worker``, ``manage.py enqueue``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from core4site import embedded
from core4site.apps import uses_layer
from tests.events.test_seed_e2e import test_seed_session_end_to_end as replay_seed
from tests.support import ROOT, LiveStack, free_port, wait_for

embedded_only = pytest.mark.skipif(
    bool(os.environ.get("REDIS_URL")), reason="the embedded Redis is used without REDIS_URL only"
)


@pytest.mark.parametrize(
    ("argv", "label"),
    [
        (["manage.py", "worker", "w-1"], "worker"),
        (["./manage.py", "enqueue", "x.Y"], "enqueue"),
        (["manage.py", "runserver"], "runserver"),
        (["manage.py", "coco", "--halt"], "coco"),
        (["/venv/bin/daphne", "core4site.asgi:application"], "daphne"),
        (["/venv/lib/site-packages/daphne/__main__.py", "-p", "1"], "daphne"),
        (["manage.py", "migrate"], None),
        (["manage.py", "check"], None),
        (["manage.py", "collectstatic"], None),
        (["manage.py", "makemigrations"], None),
        (["manage.py", "shell"], None),
        (["manage.py", "up"], None),  # joins explicitly, failing instead of warning
        (["manage.py", "worker", "--help"], None),
        (["/venv/bin/pytest", "tests"], None),
        ([], None),
    ],
)
def test_which_processes_use_the_layer(argv, label):
    assert uses_layer(argv) == label


def _ensure_in_child(socket_path: str, ready: multiprocessing.Event, go) -> None:
    go.wait(30)
    embedded.ensure(socket_path, label="child", linger=0.5)
    ready.set()
    time.sleep(1.0)


def test_processes_starting_at_once_share_one_server(tmp_path):
    socket_path = tmp_path / "redis.sock"
    context = multiprocessing.get_context("fork")
    go = context.Event()
    children = []
    for _ in range(4):
        ready = context.Event()
        child = context.Process(target=_ensure_in_child, args=(str(socket_path), ready, go))
        child.start()
        children.append((child, ready))
    go.set()
    try:
        for _, ready in children:
            assert ready.wait(60)
        assert embedded.is_running(socket_path)
        log = (tmp_path / embedded.SUPERVISOR_LOG).read_text()
        assert log.count("redis-server pid") == 1, log
    finally:
        for child, _ in children:
            child.join(30)
    # The last user is gone: the server stops after its linger time, the supervisor exits.
    wait_for(lambda: not socket_path.exists(), 30, message="redis-server still running")
    wait_for(lambda: not (tmp_path / embedded.SUPERVISOR_PID).exists(), 30)


@embedded_only
@pytest.mark.e2e
def test_seed_session_with_separate_plain_commands(tmp_path):
    """core4's way: server, ``enqueue`` and worker as separate commands, no ``up``."""
    stack = LiveStack(tmp_path, embedded_redis=False)
    try:
        socket_path = stack.var / "redis.sock"
        stack.manage("check")
        assert not socket_path.exists(), "migrate/check must not start the embedded Redis"
        # daphne starts it; enqueue and the worker use it; summaries arrive.
        replay_seed(stack)
        assert embedded.is_running(socket_path)
        assert "started the embedded Redis" in stack.log("daphne")
        assert "NO CHANNEL LAYER" not in stack.log("daphne") + stack.log("worker-1")
        supervisor = stack.supervisor_pid()
        assert supervisor
    finally:
        stack.stop()  # SIGTERM to daphne and the worker
    assert not socket_path.exists()
    assert stack.supervisor_pid() is None


@embedded_only
@pytest.mark.e2e
def test_redis_stops_after_the_last_user_is_killed(tmp_path):
    stack = LiveStack(tmp_path, embedded_redis=False)
    socket_path = stack.var / "redis.sock"
    try:
        stack.start_daphne()
        worker = stack.start_worker("worker-1")
        wait_for(lambda: "start worker" in stack.log("worker-1"), 60)
        daphne = stack.processes[0][1]
        assert embedded.is_running(socket_path)
        stack.terminate(daphne, signal.SIGKILL)
        time.sleep(2.5)  # more than the stack's linger time (1 s): the worker still uses it
        assert embedded.is_running(socket_path)
        stack.terminate(worker, signal.SIGKILL)  # no exit handler runs
        wait_for(lambda: not socket_path.exists(), 30, message="Redis outlived its users")
        wait_for(lambda: stack.supervisor_pid() is None, 30)
        server = stack.log("daphne") + stack.log("worker-1")
        assert "NO CHANNEL LAYER" not in server
    finally:
        stack.stop()


def test_unreachable_layer_is_said_loudly_at_start(tmp_path):
    result = subprocess.run(  # noqa: PLW1510 - the command fails on purpose
        [sys.executable, "manage.py", "enqueue", "no.such.Job"],
        cwd=ROOT,
        env={
            **os.environ,
            "CORE4_VAR_DIR": str(tmp_path),
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "DJANGO_SETTINGS_MODULE": "tests.settings",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "NO CHANNEL LAYER" in result.stderr
    assert "summaries" in result.stderr


@pytest.mark.e2e
def test_up_keeps_serving_after_halt(tmp_path):
    stack = LiveStack(tmp_path, embedded_redis=False)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        up = stack.spawn("up", "up", "--port", str(port), "--workers", "1")

        def answers():
            assert up.poll() is None, stack.log("up")
            try:
                return requests.get(base + "/core4/api/v1/login", timeout=2).status_code
            except requests.ConnectionError:
                return None

        wait_for(answers, 90, message="up did not answer")
        wait_for(lambda: stack.manage("coco", "--alive").stdout.count("worker-1"), 60)
        stack.manage("coco", "--halt")
        wait_for(lambda: "worker-1 halted" in stack.log("up"), 60, message=stack.log("up"))
        time.sleep(1)
        assert up.poll() is None, stack.log("up")
        assert requests.get(base + "/core4/api/v1/login", timeout=10).status_code == 401
        assert "manage.py worker" in stack.log("up")
        # Starting a worker again by hand: it runs jobs (the server still serves).
        stack.start_worker("worker-2")
        job_id = stack.manage("enqueue", "core4.queue.helper.job.example.DummyJob").stdout.split()[
            -1
        ]
        wait_for(
            lambda: '"complete"' in stack.manage("coco", "--detail", job_id).stdout,
            90,
            message=stack.log("worker-2"),
        )
        assert stack.terminate(up) == 0
    finally:
        stack.stop()
    if not os.environ.get("REDIS_URL"):
        assert not (stack.var / "redis.sock").exists()
