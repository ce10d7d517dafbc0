"""A job's start is recorded at most ``CORE4_WORKER_START_WINDOW`` after its process said
so; a job that ends within the window has its start and its end recorded by one turn (one
transaction) instead of two, with both events stored in order."""

from __future__ import annotations

import pytest

from jobqueue import services, transitions
from jobqueue.models import Job
from jobqueue.worker import Worker

pytestmark = pytest.mark.django_db(transaction=True)

SLEEP = "tests.jobqueue.jobs.SleepJob"


@pytest.fixture
def turns(monkeypatch) -> list[list[str]]:
    """The job ids of every turn that recorded something (a start, progress, an end)."""
    seen: list[list[str]] = []
    batch = transitions.batch

    def recording(ids):
        if ids:
            seen.append(list(ids))
        return batch(ids)

    monkeypatch.setattr(transitions, "batch", recording)
    return seen


def finished(job: Job):
    return lambda: Job.objects.get(pk=job.id).state == "complete"


@pytest.mark.parametrize("pool", [False, True], ids=["fork", "pool"])
def test_a_short_job_costs_one_turn(fast, turns, events, pool):
    fast.CORE4_WORKER_START_WINDOW = 30.0  # far longer than the job: its end comes first
    job = services.enqueue(SLEEP, sleep=0)
    Worker("test-worker", 1, pool=pool).run(until=finished(job), timeout=60)
    assert [turn for turn in turns if job.id in turn] == [[job.id, job.id]]  # start, end
    assert [name for name, _ in events.of(job.id)] == [
        "enqueue_job",
        "request_start_job",
        "start_job",
        "complete_job",
    ]
    job.refresh_from_db()
    assert job.inactive_at is not None and job.runtime is not None


def test_a_start_waits_no_longer_than_its_window(fast, turns):
    fast.CORE4_WORKER_START_WINDOW = 0.2
    job = services.enqueue(SLEEP, sleep=20)

    seen: list[tuple[str, int | None]] = []

    def started() -> bool:
        row = Job.objects.get(pk=job.id)
        seen.append((row.state, row.pid))
        return row.pid is not None

    worker = Worker("test-worker", 1)
    worker.run(until=started, timeout=15)  # the job sleeps on: only the window ends the wait
    assert seen[-1][0] == "running"  # recorded while the job ran (the worker's stop kills it)
    assert [turn for turn in turns if job.id in turn][0] == [job.id]  # the start alone


def test_with_no_window_a_start_is_recorded_at_once(fast, turns):
    fast.CORE4_WORKER_START_WINDOW = 0.0
    fast.CORE4_WORKER_GATHER = 0.0
    job = services.enqueue(SLEEP, sleep=1)
    Worker("test-worker", 1).run(until=finished(job), timeout=60)
    assert [turn for turn in turns if job.id in turn] == [[job.id], [job.id]]
