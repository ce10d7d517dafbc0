"""PostgreSQL: a change of a switch in ``Control`` (pause, halt, a worker's mode) is
announced with ``NOTIFY`` by a trigger (migration 0006), so that a listening worker reads
the switches again only after a change, not before every pick — and still never picks
after a pause that committed before its pick."""

from __future__ import annotations

import select
import time

import psycopg
import pytest
from django.db import connection

from jobqueue import scheduling, services, transitions
from jobqueue.models import Control, Job
from jobqueue.worker import Worker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's NOTIFY"),
]

NOOP = "jobqueue.jobs.example.NoopJob"


@pytest.fixture
def listener():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f"LISTEN {transitions.NOTIFY_CHANNEL}")

        def payloads(expected: int) -> list[str]:
            """The next ``expected`` notices (waiting up to 10 s); none: 0.3 s of nothing."""
            notices = conn.notifies(timeout=10 if expected else 0.3, stop_after=expected or None)
            return [notice.payload for notice in notices]

        yield payloads


def test_switch_changes_are_announced_and_other_control_rows_are_not(listener):
    services.pause(by="admin")
    assert listener(1) == [transitions.CONTROL_CHANGED]
    services.pause("examples", by="admin")
    assert listener(1) == [transitions.CONTROL_CHANGED]
    Control.objects.set_worker_mode("w-1", Control.objects.QUIET, "admin")
    assert listener(1) == [transitions.CONTROL_CHANGED]
    services.halt(by="admin")
    assert listener(1) == [transitions.CONTROL_CHANGED]
    scheduling.set_bookmark(transitions.utcnow(), "w-1")  # a lease, not a switch
    assert listener(0) == []
    services.resume(by="admin")  # a resume also wakes the workers for work: both
    assert sorted(listener(2)) == ["", transitions.CONTROL_CHANGED]
    assert listener(0) == []


def state(job) -> str:
    return Job.objects.get(pk=job.id).state


def steps_until(worker: Worker, done, timeout: float = 60.0) -> None:
    """The worker's turns until ``done()`` (a deadline, not a number of turns: a loaded
    machine takes more of them)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not done in time"
        worker.step()


def test_a_listening_worker_reads_the_switches_only_after_a_change(fast, monkeypatch):
    worker = Worker("switches-worker", 2)
    reads: list[int] = []
    read = worker.housekeeping.read_switches

    def counted():
        reads.append(1)
        return read()

    monkeypatch.setattr(worker.housekeeping, "read_switches", counted)
    jobs = [services.enqueue(NOOP, n=i) for i in range(3)]
    worker.startup()
    try:
        worker.next_tick = float("inf")  # no tick: its read is not the one looked at
        steps_until(worker, lambda: all(state(job) == "complete" for job in jobs))
        assert len(reads) == 1  # the first pick's; no change since
        services.pause(by="admin")
        paused = services.enqueue(NOOP, n=9)
        # the notices of both commits (in commit order) have reached the worker's connection
        assert select.select([worker.listener.fileno()], [], [], 10)[0]
        worker.wanted = True
        worker.step()
        assert len(reads) == 2
        assert state(paused) == "pending"
        services.resume(by="admin")
        steps_until(worker, lambda: state(paused) == "complete")
        assert len(reads) == 3
    finally:
        worker.shutdown()
