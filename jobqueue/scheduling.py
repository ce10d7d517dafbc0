"""When a schedule runs next, and firing it: the two calls the schedule services need.

A minimal version (``compute_next_run`` through :mod:`jobqueue.cron`, ``fire`` through
``services.enqueue``); the scheduler's step and the class schedules' sync live with the
firing engine.
"""

from __future__ import annotations

from datetime import datetime

from core4api.ids import utcnow
from jobqueue import cron, services
from jobqueue.errors import JobError, JobExists
from jobqueue.models import Job, Schedule

#: ``Schedule.last_outcome`` after a fire
ENQUEUED = "enqueued"
EXISTS = "exists"
FAILED = "failed"


def compute_next_run(schedule: Schedule, after: datetime | None = None) -> datetime:
    """The first due time of ``schedule`` strictly after ``after`` (default: now), UTC."""
    return cron.next_after(
        after or utcnow(),
        cron=schedule.cron,
        interval=schedule.interval,
        timezone=schedule.timezone or "UTC",
    )


def fire(schedule: Schedule, by: str | None, now: datetime | None = None) -> Job:
    """Enqueue the schedule's job now; record ``last_run``/``last_outcome``/``last_job_id``.

    Returns the new job, or raises the ``JobError`` of the enqueue (recorded as the outcome:
    ``exists`` when the same job is still unfinished, else ``failed``).
    """
    now = now or utcnow()
    try:
        job = services.enqueue(schedule.name, by=by, args=dict(schedule.args or {}))
    except JobError as exc:
        outcome = EXISTS if isinstance(exc, JobExists) else FAILED
        Schedule.objects.filter(pk=schedule.pk).update(last_run=now, last_outcome=outcome)
        schedule.last_run, schedule.last_outcome = now, outcome
        raise
    Schedule.objects.filter(pk=schedule.pk).update(
        last_run=now, last_outcome=ENQUEUED, last_job_id=job.id
    )
    schedule.last_run, schedule.last_outcome, schedule.last_job_id = now, ENQUEUED, job.id
    return job
