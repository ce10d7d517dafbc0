"""A worker's turn that fails (its transaction rolled back) loses nothing, and a job whose
record keeps failing does not hold up the others: after a failed turn each of its jobs is
recorded in a transaction of its own, the failing one is tried again every tick, and it is
recorded once it can be — each event stored once."""

from __future__ import annotations

import logging
import time

import pytest
from django.db import DatabaseError

from jobqueue import services
from jobqueue.models import Job
from jobqueue.processes import Processes, Slot
from jobqueue.worker import Worker

pytestmark = pytest.mark.django_db(transaction=True)

SLEEP = "tests.jobqueue.jobs.SleepJob"


@pytest.mark.parametrize("late", [0, 0.5], ids=["ends-with-the-others", "ends-after-them"])
def test_a_job_whose_record_fails_does_not_hold_up_the_others(
    fast, events, monkeypatch, caplog, late
):
    jobs = [services.enqueue(SLEEP, sleep=late if n == 1 else 0, n=n) for n in range(3)]
    bad, others = jobs[1], [jobs[0], jobs[2]]
    broken = [True]
    failures = [0]
    settle = Processes.settle

    def failing(self, slot):
        if slot.job_id == bad.id and broken[0]:
            failures[0] += 1
            raise DatabaseError("could not extend file: No space left on device")
        return settle(self, slot)

    monkeypatch.setattr(Processes, "settle", failing)
    held: list[str] = []

    def until() -> bool:
        states = {job.id: Job.objects.get(pk=job.id).state for job in jobs}
        # its record failed in a turn, then apart (the first try after a failed turn is
        # apart), while the others were recorded: now it is mended, its next try goes through
        if broken[0] and failures[0] >= 2 and all(states[j.id] == "complete" for j in others):
            held.append(states[bad.id])
            broken[0] = False
        return not broken[0] and states[bad.id] == "complete"

    with caplog.at_level(logging.ERROR, logger="jobqueue.worker"):
        Worker("test-worker", 3).run(until=until, timeout=30)
    assert held == ["running"]  # the others were recorded while its record failed
    assert f"recording job [{bad.id}] failed, retrying it apart" in caplog.text
    for job in jobs:
        assert [name for name, _ in events.of(job.id)] == [
            "enqueue_job",
            "request_start_job",
            "start_job",
            "complete_job",
        ]
    assert Job.objects.get(pk=bad.id).trial == 1  # run once, recorded once


def test_a_job_waiting_to_be_recorded_apart_does_not_spin_the_loop(fast):
    """The loop sleeps until the retry of a job recorded apart is due — also when the job
    has a start to record (its window long over): no turn is due before the retry."""
    fast.CORE4_WORKER_TICK = 1.0
    fast.CORE4_WORKER_POLL = 5.0  # SQLite's poll would bound the sleep first
    worker = Worker("test-worker", 2)
    worker.wanted = False
    worker.next_tick = time.monotonic() + 60
    worker.duties.next_at = lambda: time.monotonic() + 60  # type: ignore[method-assign]
    slot = Slot(job_id="a" * 24, pid=1, fd=-1, output=-1, start_due=True, start_reported=0.0)
    worker.processes.slots[-1] = slot
    slot.apart_at = time.monotonic() + 0.5
    assert 0.3 < worker._timeout() <= 0.5
    slot.apart_at = None  # recorded apart at last: the start's window is long over
    assert worker._timeout() == 0.0
