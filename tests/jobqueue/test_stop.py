"""Stopping with jobs running: ``manage.py worker`` on SIGINT/SIGTERM, ``manage.py up`` on
Ctrl-C — the message at once, a second signal stops at once, the jobs cut off are settled
as failed and retried (the attempt not counted), and no process is left."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from tests.jobqueue.stackdb import enqueue, job, wait_state
from tests.support import LiveStack, free_port, wait_for

pytestmark = pytest.mark.e2e

SLEEP = "tests.jobqueue.jobs.SleepJob"
FAST = {
    "CORE4_WORKER_TIMEOUT": "2",
    "CORE4_SUMMARY_INTERVAL": "0.5",
    "CORE4_WORKER_DAILY_COMMANDS": "nosuchcommand",
}


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _left(processes: list[psutil.Process]) -> list[str]:
    """Processes of ``processes`` still alive (zombies count as gone)."""
    left = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{process.pid} {' '.join(process.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return left


def _job_running(stack: LiveStack, job_id: str) -> int:
    wait_state(stack, job_id, "running")
    return wait_for(lambda: job(stack, job_id)["pid"], 60, 0.1, "job process did not start")


def _assert_retried(stack: LiveStack, job_id: str, says: str) -> dict:
    settled = job(stack, job_id)
    assert settled["state"] == "failed", settled
    assert settled["attempts_left"] == settled["attempts"]  # the attempt does not count
    assert settled["query_at"] is not None  # due again at once
    assert settled["locked_by"] is None
    assert "WorkerStopped" in str(settled["last_error"])
    assert says in str(settled["last_error"]), settled["last_error"]
    assert "sleeping 12" in settled["stdout"]  # the output so far is kept
    return settled


@pytest.mark.parametrize(("sig", "again"), [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_worker_stop_waits_then_settles_jobs_as_retried(live_stack, sig, again):
    stack = live_stack
    stack.env.update(FAST, CORE4_WORKER_GRACE="3")
    job_id = enqueue(stack, SLEEP, "sleep=120")
    worker = stack.start_worker("worker-1")
    job_pid = _job_running(stack, job_id)
    processes = _tree(worker.pid)
    assert job_pid in {p.pid for p in processes}
    assert len(processes) >= 3  # worker, fork server, job process
    sent = time.monotonic()
    os.kill(worker.pid, sig)
    message = (
        f"worker [worker-1] stopping ({sig.name}): 1 job running, waiting up to 3 s — "
        f"{again} again to stop now"
    )
    wait_for(lambda: message in stack.log("worker-1"), 10, 0.05, stack.log("worker-1"))
    # said at once: while the job still runs, before the grace period ends and settles it
    assert job(stack, job_id)["state"] == "running"
    assert worker.wait(30) == 0, stack.log("worker-1")
    assert time.monotonic() - sent >= 3  # the grace period was given
    _assert_retried(stack, job_id, "grace period of 3 s over")
    assert not _left(processes)
    # the next worker runs it again: a second trial, the same attempts
    stack.env["CORE4_WORKER_GRACE"] = "1"
    stack.start_worker("worker-2")
    again_running = wait_state(stack, job_id, "running")
    assert again_running["trial"] == 2


def test_second_sigint_stops_a_worker_at_once(live_stack):
    stack = live_stack
    stack.env.update(FAST, CORE4_WORKER_GRACE="120")
    job_id = enqueue(stack, SLEEP, "sleep=120")
    worker = stack.start_worker("worker-1")
    _job_running(stack, job_id)
    processes = _tree(worker.pid)
    os.kill(worker.pid, signal.SIGINT)
    wait_for(lambda: "Ctrl-C again to stop now" in stack.log("worker-1"), 10, 0.05)
    sent = time.monotonic()
    os.kill(worker.pid, signal.SIGINT)
    assert worker.wait(30) == 0, stack.log("worker-1")
    assert time.monotonic() - sent < 10
    _assert_retried(stack, job_id, "stopped at once (SIGINT)")
    assert not _left(processes)


def test_killed_worker_leaves_no_job_process(live_stack):
    """SIGKILL: nothing can be settled, but the fork server ends the job processes."""
    stack = live_stack
    stack.env.update(FAST, CORE4_WORKER_GRACE="1")
    job_id = enqueue(stack, SLEEP, "sleep=120")
    worker = stack.start_worker("worker-1")
    _job_running(stack, job_id)
    processes = _tree(worker.pid)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    wait_for(lambda: not _left(processes), 10, 0.1, "a process outlived its worker")


def test_killed_pool_worker_leaves_no_process_and_its_job_is_settled_once(live_stack):
    """SIGKILL a worker whose job runs in a pool process (``--pool``): the fork server ends
    the pool process; the worker's next start settles the job as killed — it ran once and
    is not run again."""
    stack = live_stack
    stack.env.update(FAST, CORE4_WORKER_GRACE="1")
    job_id = enqueue(stack, SLEEP, "sleep=120")
    worker = stack.start_worker("worker-1", "--pool")
    _job_running(stack, job_id)
    assert job(stack, job_id)["run_mode"] == "pool"
    processes = _tree(worker.pid)
    assert len(processes) >= 3  # the worker, its fork server, the pool process
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    wait_for(lambda: not _left(processes), 10, 0.1, "a process outlived its worker")
    assert job(stack, job_id)["state"] == "running"  # nobody could settle it yet
    again = stack.start_worker("worker-1", "--pool")
    settled = wait_state(stack, job_id, "killed")
    assert settled["trial"] == 1 and "restarted" in str(settled["last_error"])
    stack.terminate(again)


def test_ctrl_c_under_up(tmp_path):
    """``up``: the message at once, a second Ctrl-C stops at once, jobs settled as retried,
    no process left (workers, fork servers, job processes, daphne, the embedded Redis)."""
    stack = LiveStack(tmp_path, embedded_redis=False)
    stack.env.update(FAST, CORE4_WORKER_GRACE="120")
    port = free_port()
    try:
        up = stack.spawn("up", "up", "--port", str(port), "--workers", "1", "--concurrency", "2")
        wait_for(lambda: "core4site is up" in stack.log("up"), 90, 0.1, stack.log("up"))
        first = enqueue(stack, SLEEP, "sleep=120", "priority=1")
        second = enqueue(stack, SLEEP, "sleep=121")
        _job_running(stack, first)
        _job_running(stack, second)
        processes = _tree(up.pid)
        supervisor = stack.supervisor_pid()
        if supervisor is not None:
            processes += _tree(supervisor)
        names = " ".join(" ".join(p.cmdline()) for p in processes)
        assert "daphne" in names and "worker" in names
        sent = time.monotonic()
        os.kill(up.pid, signal.SIGINT)
        message = "stopping: 2 jobs running, waiting up to 120 s — Ctrl-C again to stop now"
        wait_for(lambda: message in stack.log("up"), 10, 0.05, stack.log("up"))
        time.sleep(0.5)
        assert up.poll() is None  # waiting for the jobs
        os.kill(up.pid, signal.SIGINT)
        up.wait(30)
        assert time.monotonic() - sent < 20, stack.log("up")
        for job_id in (first, second):
            _assert_retried(stack, job_id, "stopped at once (SIGINT)")
        wait_for(lambda: not _left(processes), 10, 0.1, f"left: {_left(processes)}")
        assert not (stack.var / "redis.sock").exists()
    finally:
        stack.stop()


def test_nothing_outlives_a_killed_up(tmp_path):
    """``up`` SIGKILLed: its children get SIGTERM (dies-with-parent) and stop; the embedded
    Redis stops once no user is left."""
    stack = LiveStack(tmp_path, embedded_redis=False)
    stack.env.update(FAST, CORE4_WORKER_GRACE="2")
    port = free_port()
    try:
        up = stack.spawn("up", "up", "--port", str(port), "--workers", "1")
        wait_for(lambda: "core4site is up" in stack.log("up"), 90, 0.1, stack.log("up"))
        job_id = enqueue(stack, SLEEP, "sleep=120")
        _job_running(stack, job_id)
        processes = _tree(up.pid)[1:]
        supervisor = stack.supervisor_pid()
        if supervisor is not None:
            processes += _tree(supervisor)
        os.kill(up.pid, signal.SIGKILL)
        up.wait(10)
        wait_for(lambda: not _left(processes), 30, 0.1, f"left: {_left(processes)}")
        _assert_retried(stack, job_id, "grace period of 2 s over")  # SIGTERM: graceful
    finally:
        stack.stop()
