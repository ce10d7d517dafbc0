"""The scheduler in real processes: a leased duty of the workers that moves to another worker
when its holder is SIGKILLed, and ``manage.py scheduler`` on its own."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime

import pytest

from tests.jobqueue.stackdb import as_time, rows
from tests.support import LiveStack, wait_for

pytestmark = pytest.mark.e2e

NOOP = "jobqueue.jobs.example.NoopJob"
LEASE = 2.0
FAST = {
    "CORE4_WORKER_TIMEOUT": "2",
    "CORE4_SUMMARY_INTERVAL": "0.5",
    "CORE4_WORKER_DAILY_COMMANDS": "nosuchcommand",
    "CORE4_SCHEDULER_LEASE": str(LEASE),
}


def every_second(stack: LiveStack) -> str:
    """A runtime schedule of the no-op job, due every second from now."""
    out = stack.manage(
        "shell", "-c",
        "from core4api.ids import utcnow; from jobqueue.models import Schedule; "
        f"print(Schedule.objects.create(name='{NOOP}', interval=1, next_run=utcnow()).id)",
    ).stdout  # fmt: skip
    return out.strip().splitlines()[-1]


def holder(stack: LiveStack) -> str | None:
    found = rows(stack, "SELECT holder FROM queue_lease WHERE name = 'scheduler'")
    return found[0]["holder"] if found else None


def scheduled_enqueues(stack: LiveStack, schedule_id: str) -> list:
    found = rows(
        stack,
        "SELECT enqueued_at, enqueued_by FROM queue_job WHERE schedule_id = ? ORDER BY enqueued_at",
        schedule_id,
    )
    assert all(row["enqueued_by"] == "scheduler" for row in found)
    return [as_time(row["enqueued_at"]) for row in found]


def bookmark(stack: LiveStack) -> tuple[str, datetime] | None:
    """(holder, time) of the last scheduler step (the ``Control`` row ``scheduler``)."""
    found = rows(stack, "SELECT value FROM queue_control WHERE key = 'scheduler'")
    if not found:
        return None
    value = found[0]["value"]
    value = json.loads(value) if isinstance(value, str) else value
    return value["by"], datetime.fromisoformat(value["at"])


def test_the_scheduler_duty_moves_to_another_worker_when_its_holder_is_killed(live_stack):
    stack = live_stack
    stack.env.update(FAST)
    schedule_id = every_second(stack)
    workers = {name: stack.start_worker(name) for name in ("worker-1", "worker-2")}
    first = wait_for(lambda: holder(stack) in workers and holder(stack), 60, 0.1,
                     "no worker took the scheduler lease")  # fmt: skip
    wait_for(lambda: len(scheduled_enqueues(stack, schedule_id)) >= 3, 60, 0.1,
             "the schedule did not fire")  # fmt: skip
    LiveStack.terminate(workers[first], signal.SIGKILL)
    by, last_step = bookmark(stack)
    assert by == first
    other = next(name for name in workers if name != first)
    taken = wait_for(lambda: (b := bookmark(stack)) and b[0] == other and b, 30, 0.05,
                     "the other worker did not take over")  # fmt: skip
    assert holder(stack) == other
    # takeover within twice the lease; the bound is generous (a shared, loaded machine)
    gap = (taken[1] - last_step).total_seconds()
    assert 0 < gap < 4 * LEASE + 2, f"{gap:.1f} s between the last step of {first} and {other}"

    def fired_since_takeover():
        row = rows(stack, "SELECT last_run, last_outcome, enabled FROM queue_schedule "
                          "WHERE id = ?", schedule_id)[0]  # fmt: skip
        last_run = as_time(row["last_run"])  # naive UTC on SQLite
        return last_run.replace(tzinfo=last_run.tzinfo or UTC) >= taken[1] and row

    # fired by the new holder: enqueued — or exists, if the killed worker's job was running
    # (it is settled as killed and stays unfinished: at most one unfinished job)
    row = wait_for(fired_since_takeover, 30, 0.1, "the schedule did not fire after the takeover")
    assert row["enabled"] and row["last_outcome"] in ("enqueued", "exists")


def test_manage_py_scheduler_runs_on_its_own(live_stack):
    """``manage.py scheduler`` as a process (``coco --scheduler`` runs the same command)."""
    stack = live_stack
    stack.env.update(FAST, CORE4_SCHEDULER="off",
                     CORE4_JOB_PACKAGES="jobqueue.jobs,tests.jobqueue.scheduled_jobs")  # fmt: skip
    schedule_id = every_second(stack)
    worker = stack.start_worker("worker-1")
    time.sleep(2)  # the worker runs without firing (CORE4_SCHEDULER=off)
    assert scheduled_enqueues(stack, schedule_id) == [] and holder(stack) is None
    scheduler = stack.spawn("scheduler", "scheduler", "sched-1")
    wait_for(lambda: len(scheduled_enqueues(stack, schedule_id)) >= 2, 60, 0.1,
             "manage.py scheduler did not fire")  # fmt: skip
    assert holder(stack) == "sched-1"
    # it synchronised the class schedules at start: MinuteJob's, not its subclass's
    classes = rows(stack, "SELECT name, cron, enabled FROM queue_schedule WHERE source = 'class'")
    by_name = {row["name"]: row for row in classes}
    assert by_name["tests.jobqueue.scheduled_jobs.MinuteJob"]["cron"] == "* * * * *"
    assert "tests.jobqueue.scheduled_jobs.InheritingJob" not in by_name
    assert LiveStack.terminate(scheduler, signal.SIGTERM) == 0
    log = stack.log("scheduler")
    assert "start scheduler [sched-1]" in log and "holds the lease" in log, log
    assert "scheduler [sched-1] stopped" in log, log
    lease = rows(stack, "SELECT expires FROM queue_lease WHERE name = 'scheduler'")[0]
    assert as_time(lease["expires"]).timestamp() <= time.time() + 0.5  # released at exit
    assert worker.poll() is None
