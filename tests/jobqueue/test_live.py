"""Real worker processes against a stack of their own: CLI, crash safety, cluster rules."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.jobqueue.stackdb import as_time, enqueue, job, rows, wait_state
from tests.support import ROOT, LiveStack, alive, wait_for

pytestmark = pytest.mark.e2e

DUMMY = "core4.queue.helper.job.example.DummyJob"
SLEEP = "tests.jobqueue.jobs.SleepJob"
FAST = {
    "CORE4_WORKER_TIMEOUT": "2",
    "CORE4_WORKER_GRACE": "20",
    "CORE4_SUMMARY_INTERVAL": "0.5",
    "CORE4_WORKER_DAILY_COMMANDS": "nosuchcommand",
}


def test_job_processes_do_not_carry_the_web_side(live_stack):
    """``manage.py worker`` runs no system checks (they load the URLconf, the API and the
    dashboard's views): neither the worker nor the job processes its fork server forks carry
    them — ~16 MB less in every job process."""
    stack = live_stack
    stack.env.update(FAST)
    job_id = stack.manage("enqueue", "tests.jobqueue.jobs.LoadedJob").stdout.split()[-1]
    stack.start_worker("worker-1", "--concurrency", "1")
    done = wait_state(stack, job_id, "complete", "error")
    result = json.loads(done["result"]) if isinstance(done["result"], str) else done["result"]
    assert done["state"] == "complete" and result == [], result


def test_seed_commands_and_coco(live_stack):
    stack = live_stack
    stack.env.update(FAST)
    out = stack.manage("enqueue", DUMMY, "sleep=1", "loop_time=0.2").stdout
    job_id = out.strip().splitlines()[-1]
    assert len(job_id) == 24
    assert job(stack, job_id)["name"] == DUMMY

    for args, message in [
        (("enqueue", DUMMY, "sleep=1", "loop_time=0.2"), f"job [{DUMMY}] exists with args"),
        (("enqueue", "nosuch.Job"), "job [nosuch.Job] not found"),
        (("enqueue", DUMMY, "priority=high"), "[priority] expected int"),
        (("enqueue", DUMMY, "novalue"), "bad argument [novalue]: expected key=value"),
        (("coco", "--listing", "complete"), "unknown state [complete]"),
        (("coco", "--kill", job_id), "is not running"),
        (("coco", "--restart", job_id), "cannot restart job"),
    ]:
        result = stack.manage(*args, check=False)
        assert result.returncode != 0, args
        assert message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        # one line, no more (the suite's deliberately invalid job classes warn at start)
        lines = [x for x in result.stderr.splitlines() if "jobqueue.registry" not in x]
        assert len(lines) == 1, result.stderr

    listing = stack.manage("coco", "--listing", "pending").stdout
    assert job_id in listing and "pending" in listing
    assert DUMMY in stack.manage("coco", "--info").stdout

    worker = stack.start_worker("worker-1", "--concurrency", "2")
    wait_for(lambda: job(stack, job_id)["journaled"], 60, 0.1, "job did not complete")
    detail = stack.manage("coco", "--detail", job_id).stdout
    assert '"state": "complete"' in detail and "running [0.2] of [1] seconds" in detail
    assert "worker-1" in stack.manage("coco", "--alive").stdout
    assert stack.manage("coco", "--info").stdout.strip() == "no jobs."
    assert "daily command [nosuchcommand] does not exist" in stack.log("worker-1")
    # exactly one worker holds the summary lease
    lease = rows(stack, "SELECT holder FROM queue_lease WHERE name = 'summary'")
    assert lease == [{"holder": "worker-1"}]

    # pause: nothing is picked; resume: it runs
    assert "entering maintenance" in stack.manage("coco", "--pause").stdout
    paused = enqueue(stack, SLEEP, "sleep=0")
    assert "in maintenance already" in stack.manage("coco", "--pause").stdout
    assert "global maintenance: on" in stack.manage("coco", "--mode").stdout
    assert job(stack, paused)["state"] == "pending"
    assert "leaving maintenance" in stack.manage("coco", "--resume").stdout
    wait_for(lambda: job(stack, paused)["journaled"], 30, 0.1, "not picked after resume")

    # halt: the running worker exits cleanly
    assert "system halt" in stack.manage("coco", "--halt").stdout
    assert worker.wait(30) == 0


def test_kill_remove_restart_from_coco(live_stack):
    stack = live_stack
    stack.env.update(FAST)
    stack.start_worker("worker-1")
    running = enqueue(stack, SLEEP, "sleep=60")
    wait_state(stack, running, "running")
    assert f"killed [{running}]" in stack.manage("coco", "--kill", running).stdout
    killed = wait_state(stack, running, "killed", timeout=10)
    assert killed["last_error"]
    out = stack.manage("coco", "--restart", running).stdout
    child = out.split("new _id [")[1].split("]")[0]
    assert job(stack, child)["parent_id"] == running
    wait_state(stack, child, "running")
    assert f"removed [{child}]" in stack.manage("coco", "--remove", child).stdout
    stack.manage("coco", "--kill", child)
    wait_for(lambda: job(stack, child)["journaled"], 10, 0.1, "killed child not removed")
    assert job(stack, child)["state"] == "killed"


def test_max_parallel_across_two_workers(live_stack):
    stack = live_stack
    stack.env.update(FAST)
    ids = [enqueue(stack, SLEEP, "sleep=0.5", f"n={i}", "max_parallel=2") for i in range(6)]
    other = enqueue(stack, DUMMY, "sleep=0.5")  # another name: not limited by SleepJob's
    stack.start_worker("worker-1", "--concurrency", "2")
    stack.start_worker("worker-2", "--concurrency", "2")
    for job_id in ids:
        wait_for(lambda j=job_id: job(stack, j)["journaled"], 60, 0.1, "jobs not drained")
    spans = sorted((as_time(j["started_at"]), as_time(j["finished_at"]), j["stdout"])
                   for j in (job(stack, i) for i in ids))  # fmt: skip
    # at no moment did more than two of them run
    for start, _, _ in spans:
        overlapping = [s for s in spans if s[0] <= start < s[1]]
        assert len(overlapping) <= 2
    assert sum(len([s for s in spans if s[0] <= start < s[1]]) == 2 for start, _, _ in spans)
    wait_for(lambda: job(stack, other)["journaled"], 30, 0.1, "other job not run")


def test_worker_killed_mid_job_is_settled_by_another(live_stack):
    stack = live_stack
    stack.env.update(FAST)
    job_id = enqueue(stack, SLEEP, "sleep=120", "worker=worker-1")
    doomed = stack.start_worker("worker-1")
    running = wait_state(stack, job_id, "running")
    wait_for(lambda: job(stack, job_id)["pid"], 30, 0.1, "job process did not start")
    pid = job(stack, job_id)["pid"]
    LiveStack.terminate(doomed, signal.SIGKILL)
    assert running["locked_by"] == "worker-1"
    stack.start_worker("worker-2")
    settled = wait_state(stack, job_id, "killed", timeout=30)
    assert "worker [worker-1] died" in str(settled["last_error"])
    # the orphaned job process was ended too (same host)
    wait_for(lambda: not alive(pid), 10, 0.1, "orphaned job process still running")


def test_sigterm_lets_running_jobs_finish(live_stack):
    stack = live_stack
    stack.env.update(FAST)
    worker = stack.start_worker("worker-1")
    first = enqueue(stack, SLEEP, "sleep=2")
    wait_state(stack, first, "running")
    worker.send_signal(signal.SIGTERM)
    second = enqueue(stack, SLEEP, "sleep=0")
    assert worker.wait(30) == 0
    assert job(stack, first)["state"] == "complete"
    assert job(stack, second)["state"] == "pending"  # not picked while stopping
    record = rows(stack, "SELECT stopped FROM queue_workerrecord WHERE identifier = 'worker-1'")
    assert record[0]["stopped"] is not None


def test_duplicate_worker_identifier_is_refused(live_stack):
    stack = live_stack
    stack.env.update(FAST)
    stack.start_worker("worker-1")
    wait_for(lambda: rows(stack, "SELECT 1 FROM queue_workerrecord"), 30, 0.1)
    result = subprocess.run(
        [sys.executable, "manage.py", "worker", "worker-1"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "worker [worker-1] is running already" in result.stderr


def test_output_of_a_running_job_is_stored_while_it_runs(live_stack):
    """Followers (REST, dashboard) see the output grow before the job ends."""
    stack = live_stack
    stack.env.update(FAST, CORE4_WORKER_GRACE="1")  # the long job need not finish at teardown
    job_id = enqueue(stack, DUMMY, "sleep=60", "loop_time=0.2")
    stack.start_worker("worker-1")
    wait_state(stack, job_id, "running")
    first = wait_for(lambda: job(stack, job_id)["stdout"], 30, 0.1, "no output while running")
    grown = wait_for(
        lambda: (out := job(stack, job_id)["stdout"]) != first and len(out) > len(first) and out,
        30, 0.1, "output did not grow while running",
    )  # fmt: skip
    assert grown.startswith(first)
    current = job(stack, job_id)
    assert current["state"] == "running" and not current["journaled"]
