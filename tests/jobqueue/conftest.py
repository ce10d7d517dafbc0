"""Fixtures of the queue tests: an event recorder and a fast in-process worker."""

from __future__ import annotations

import pytest

from jobqueue.signals import job_transition, queue_summary


class Recorder:
    def __init__(self):
        self.events: list[tuple[str, str, dict, str]] = []
        self.summaries: list[list] = []

    def __call__(self, sender, event, job, counts, author, **kwargs):
        self.events.append((event, job.id, dict(counts), author))

    def summary(self, sender, rows, author, **kwargs):
        self.summaries.append(rows)

    def of(self, job_id: str) -> list[tuple[str, dict]]:
        return [(name, counts) for name, jid, counts, _ in self.events if jid == job_id]

    def names(self, job_id: str | None = None) -> list[str]:
        return [name for name, jid, _, _ in self.events if job_id is None or jid == job_id]


@pytest.fixture
def events():
    recorder = Recorder()
    job_transition.connect(recorder, weak=False)
    queue_summary.connect(recorder.summary, weak=False)
    yield recorder
    job_transition.disconnect(recorder)
    queue_summary.disconnect(recorder.summary)


@pytest.fixture
def fast(settings):
    """Short worker periods for in-process workers."""
    settings.CORE4_WORKER_TICK = 0.1
    settings.CORE4_WORKER_POLL = 0.02
    settings.CORE4_SUMMARY_INTERVAL = 0.2
    settings.CORE4_WORKER_DAILY_COMMANDS = []
    settings.CORE4_WORKER_TIMEOUT = 2.0
    settings.CORE4_WORKER_GRACE = 5.0
    return settings


@pytest.fixture
def run_worker(fast):
    """``run_worker(until, identifier=..., concurrency=..., timeout=...)``: in this process."""
    from jobqueue.worker import Worker

    def run(until, identifier="test-worker", concurrency=2, timeout=30.0):
        worker = Worker(identifier, concurrency)
        worker.run(until=until, timeout=timeout)
        return worker

    return run
