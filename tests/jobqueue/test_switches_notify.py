"""PostgreSQL: a change of a switch in ``Control`` (pause, halt, a worker's mode) is
announced with ``NOTIFY`` by a trigger (migration 0006), so that a listening worker reads
the switches again only after a change, not before every pick — and still never picks
after a pause that committed before its pick."""

from __future__ import annotations

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
        yield lambda: [notice.payload for notice in conn.notifies(timeout=0.2)]


def test_switch_changes_are_announced_and_other_control_rows_are_not(listener):
    services.pause(by="admin")
    assert listener() == [transitions.CONTROL_CHANGED]
    services.pause("examples", by="admin")
    assert listener() == [transitions.CONTROL_CHANGED]
    Control.objects.set_worker_mode("w-1", Control.objects.QUIET, "admin")
    assert listener() == [transitions.CONTROL_CHANGED]
    services.halt(by="admin")
    assert listener() == [transitions.CONTROL_CHANGED]
    scheduling.set_bookmark(transitions.utcnow(), "w-1")  # a lease, not a switch
    assert listener() == []
    services.resume(by="admin")  # a resume also wakes the workers for work: both
    assert sorted(listener()) == ["", transitions.CONTROL_CHANGED]


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
        for _ in range(40):
            worker.step()
            if all(Job.objects.get(pk=job.id).state == "complete" for job in jobs):
                break
        assert all(Job.objects.get(pk=job.id).state == "complete" for job in jobs)
        assert len(reads) == 1  # the first pick's; no change since
        services.pause(by="admin")  # committed before the next pick: it counts
        paused = services.enqueue(NOOP, n=9)
        worker.wanted = True
        worker.step()
        assert len(reads) == 2
        assert Job.objects.get(pk=paused.id).state == "pending"
        services.resume(by="admin")
        for _ in range(40):
            worker.step()
            if Job.objects.get(pk=paused.id).state == "complete":
                break
        assert Job.objects.get(pk=paused.id).state == "complete"
        assert len(reads) == 3
    finally:
        worker.shutdown()
