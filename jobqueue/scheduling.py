"""Schedules fire here: the scheduler's step, "run now", and the class schedules' rows.

Every schedule is a :class:`~jobqueue.models.Schedule` row: ``source=runtime`` ones are
managed over REST, in the admin, the dashboard or coco; ``source=class`` ones mirror the
``schedule`` attribute of job classes (:func:`sync_class_schedules`, read-only elsewhere).
One engine fires both:

* :meth:`Scheduler.step` (once a second, on the holder of the ``scheduler`` lease — a worker
  duty, or ``manage.py scheduler``): every enabled schedule with ``next_run <= now`` (one
  query on the ``queue_schedule_due`` index) is enqueued **once** — however many due times
  a gap (scheduler down, a slow step) missed, as core4 — and ``next_run`` moves past now.
  Each firing records ``last_run``, ``last_outcome`` (``enqueued``, ``exists`` when an
  unfinished job of the same name and arguments is still there — core4's uniqueness rule,
  not an error —, ``failed``) and ``last_job_id``. A schedule that cannot enqueue at all
  (unknown job, invalid class, bad arguments: ``JobNotFound``/``JobInvalid``) is disabled
  with ``reason``, not retried every second. Due schedules are fired in batches of
  ``CORE4_SCHEDULER_BATCH``, one transaction each; every enqueue is still its own
  transition (savepoint and ``enqueue_job`` event). The step time is the bookmark
  (``Control`` key ``scheduler``) the next start restores.
* :func:`fire` — "run now": the same enqueue and record, ``next_run`` unchanged.
* :func:`compute_next_run` — when a schedule is due next (create, edit, enable).

The functions the REST API calls — :func:`compute_next_run`, :func:`fire`,
:func:`sync_class_schedules` — keep these names and signatures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Min

from core4api.ids import utcnow
from jobqueue import cron, services
from jobqueue.errors import JobError, JobExists, JobInvalid, JobNotFound
from jobqueue.models import Control, Job, Schedule
from jobqueue.registry import JobRegistry, registry

log = logging.getLogger(__name__)

#: ``last_outcome`` values
ENQUEUED = "enqueued"
EXISTS = "exists"
FAILED = "failed"
#: the ``Control`` row holding the bookmark: the time of the last step
BOOKMARK = "scheduler"
#: due schedules fired per transaction unless ``CORE4_SCHEDULER_BATCH`` says otherwise
BATCH = 200

#: what a firing writes (plus ``next_run`` in a step)
_RECORDED = ["last_run", "last_outcome", "last_job_id", "enabled", "reason", "updated_at", "etag"]


def compute_next_run(schedule: Schedule, after: datetime | None = None) -> datetime | None:
    """When ``schedule`` is due next: its first cron (or interval) time strictly after
    ``after`` (default now), UTC. None for a schedule with neither cron nor interval.
    Raises ``ValueError`` for an invalid cron expression or time zone."""
    if not schedule.cron and not schedule.interval:
        return None
    try:
        return cron.next_after(
            after or utcnow(),
            cron=schedule.cron,
            interval=schedule.interval,
            timezone=schedule.timezone or "UTC",
        )
    except (KeyError, ZoneInfoNotFoundError) as exc:
        raise ValueError(f"unknown timezone [{schedule.timezone}]") from exc


def fire(schedule: Schedule, by: str | None = None, now: datetime | None = None) -> Job:
    """Enqueue ``schedule``'s job now ("run now"; ``next_run`` is left alone) and record the
    outcome on the schedule. Returns the new job; raises ``JobError`` — ``JobExists`` when
    an unfinished instance is still there (recorded as ``exists``), ``JobNotFound`` /
    ``JobInvalid`` when it cannot be enqueued (recorded as ``failed``, the schedule
    disabled with the reason)."""
    now = now or utcnow()
    with transaction.atomic():
        try:
            row = Schedule.objects.select_for_update().get(pk=schedule.pk)
        except Schedule.DoesNotExist:
            raise JobNotFound(f"schedule [{schedule.pk}] not found") from None
        job, error = _fire(row, now, by)
        row.save(update_fields=_RECORDED)
    for name in [*_RECORDED, "next_run"]:
        setattr(schedule, name, getattr(row, name))
    if error is not None:
        raise error
    assert job is not None
    return job


def _fire(row: Schedule, now: datetime, by: str | None) -> tuple[Job | None, JobError | None]:
    """Enqueue ``row``'s job and record the outcome on ``row`` (not saved)."""
    try:
        job = services.enqueue_scheduled(row.name, row.args, row.id, by=by)
    except JobError as exc:
        _record(row, now, exc)
        return None, exc
    _record(row, now, job)
    return job, None


def _record(row: Schedule, now: datetime, result: Job | JobError) -> None:
    """The outcome of a firing, on ``row`` (not saved)."""
    row.last_run = now
    if isinstance(result, Job):
        row.last_outcome, row.last_job_id = ENQUEUED, result.id
    elif isinstance(result, JobExists):  # core4: one unfinished instance; logged, not a crash
        log.info("schedule [%s]: %s", row.id, result)
        row.last_outcome = EXISTS
    elif isinstance(result, (JobNotFound, JobInvalid)):
        log.warning("schedule [%s] of [%s] disabled: %s", row.id, row.name, result)
        row.last_outcome = FAILED
        _disable(row, str(result), now)
    else:
        log.warning("schedule [%s] of [%s] failed: %s", row.id, row.name, result)
        row.last_outcome = FAILED


def _disable(row: Schedule, reason: str, now: datetime) -> None:
    row.enabled = False
    row.reason = reason[:1000]
    row.updated_at = now
    row.etag += 1


# --- the step ---------------------------------------------------------------------------------
@dataclass
class Step:
    """What one step did."""

    at: datetime
    outcomes: dict[str, int] = field(default_factory=dict)
    #: when the next enabled schedule is due (None: none is)
    next_due: datetime | None = None

    @property
    def fired(self) -> int:
        return sum(self.outcomes.values())


class Scheduler:
    """The engine one scheduler (``holder``) steps; call :meth:`step` once a second."""

    def __init__(self, holder: str = services.SCHEDULER, batch: int | None = None):
        self.holder = holder
        self.batch = max(1, batch or getattr(settings, "CORE4_SCHEDULER_BATCH", BATCH))
        self._synced: JobRegistry | None = None

    def step(self, now: datetime | None = None) -> Step:
        """Fire every due schedule once, move its ``next_run`` past ``now``, bookmark."""
        now = now or utcnow()
        current = registry()
        if current is not self._synced:  # at start, and when the registry was rebuilt
            sync_class_schedules(now)
            self._synced = current
        result = Step(now)
        self._plan_unplanned(now)
        nexts: dict[tuple[str, str], datetime] = {}  # one cron evaluation per (cron, zone)
        while True:
            ids = list(
                Schedule.objects.filter(enabled=True, next_run__lte=now)
                .order_by("next_run", "id")
                .values_list("id", flat=True)[: self.batch]
            )
            if not ids:
                break
            handled = self._fire_batch(ids, now, nexts, result)
            if len(ids) < self.batch or handled < len(ids):  # the rest is locked: next step
                break
        set_bookmark(now, self.holder)
        result.next_due = Schedule.objects.filter(enabled=True).aggregate(at=Min("next_run"))["at"]
        return result

    def _fire_batch(self, ids: list[str], now: datetime, nexts: dict, result: Step) -> int:
        """Fire due schedules ``ids`` in one transaction: their jobs enqueued together
        (``enqueue_scheduled_many``: one event each), their rows updated together. Returns
        how many it fired (rows another transaction holds are left to the next step)."""
        with transaction.atomic():
            rows = Schedule.objects.filter(pk__in=ids, enabled=True, next_run__lte=now)
            if connection.vendor == "postgresql":  # a "run now" holding one: next step
                rows = rows.select_for_update(skip_locked=True)
            batch = list(rows.order_by("next_run", "id"))
            firing = []
            for row in batch:
                try:
                    row.next_run = _advance(row, now, nexts)
                except ValueError as exc:
                    row.last_outcome, row.last_run = FAILED, now
                    _disable(row, f"cannot compute when it is due: {exc}", now)
                    continue
                firing.append(row)
            requests = [(row.name, row.args, row.id) for row in firing]
            outcomes = services.enqueue_scheduled_many(requests, by=services.SCHEDULER)
            for row, outcome in zip(firing, outcomes, strict=True):
                _record(row, now, outcome)
            for row in batch:
                result.outcomes[row.last_outcome] = result.outcomes.get(row.last_outcome, 0) + 1
            _save_rows(batch)
        return len(batch)

    @staticmethod
    def _plan_unplanned(now: datetime) -> None:
        """An enabled schedule without ``next_run`` (created without one) gets one."""
        for row in Schedule.objects.filter(enabled=True, next_run__isnull=True):
            try:
                next_run = compute_next_run(row, now)
            except ValueError as exc:
                with transaction.atomic():
                    _disable(row, f"cannot compute when it is due: {exc}", now)
                    row.save(update_fields=["enabled", "reason", "updated_at", "etag"])
                continue
            if next_run is not None:
                Schedule.objects.filter(pk=row.pk, next_run__isnull=True).update(next_run=next_run)


def _save_rows(rows: list[Schedule]) -> None:
    """Write the firing fields of ``rows`` in one ``UPDATE … FROM (VALUES …)`` (Django's
    ``bulk_update`` builds a CASE per field and row: 11 of 17 s of a 1,000-schedule step)."""
    if not rows:
        return
    by_name = {f.name: f for f in Schedule._meta.concrete_fields}
    fields = [by_name[name] for name in ["next_run", *_RECORDED]]
    quote = connection.ops.quote_name
    postgres = connection.vendor == "postgresql"

    def slot(column: Any) -> str:  # PostgreSQL types VALUES by their first row: say it
        return f"CAST(%s AS {column.db_type(connection)})" if postgres else "%s"

    row_sql = "(" + ", ".join(["%s", *(slot(f) for f in fields)]) + ")"
    names = ["v_id", *("v_" + f.column for f in fields)]
    table = quote(Schedule._meta.db_table)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote('v_' + f.column)}" for f in fields)
    values = ", ".join([row_sql] * len(rows))
    sql = (
        f"WITH v ({', '.join(quote(n) for n in names)}) AS (VALUES {values}) "
        f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{quote('id')} = v.{quote('v_id')}"
    )
    params: list[Any] = []
    for row in rows:
        params.append(row.pk)
        params.extend(f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _advance(row: Schedule, now: datetime, nexts: dict) -> datetime:
    """``next_run`` past ``now`` after a firing (the gap rule: every missed time at once).
    An interval keeps its phase; a cron expression takes its first time after now."""
    if row.interval:
        step = timedelta(seconds=row.interval)
        due = row.next_run or now
        return due + step * ((now - due) // step + 1)
    key = (row.cron, row.timezone or "UTC")
    if key not in nexts:
        nexts[key] = compute_next_run(row, now)
    return nexts[key]


# --- the bookmark -----------------------------------------------------------------------------
def bookmark() -> datetime | None:
    """When the last scheduler step ran (any holder; survives restarts)."""
    row = Control.objects.filter(key=BOOKMARK).values_list("value", flat=True).first()
    if isinstance(row, dict) and isinstance(row.get("at"), str):
        try:
            return datetime.fromisoformat(row["at"])
        except ValueError:
            return None
    return None


def set_bookmark(at: datetime, holder: str) -> None:
    value = {"at": at.isoformat(), "by": holder}
    if not Control.objects.filter(key=BOOKMARK).update(value=value):
        Control.objects.get_or_create(key=BOOKMARK, defaults={"value": value})


# --- class schedules --------------------------------------------------------------------------
def sync_class_schedules(now: datetime | None = None) -> dict[str, int]:
    """Mirror the registry's class ``schedule`` attributes as ``source=class`` rows:
    create the missing (due from the bookmark on, as core4's scheduler: a time missed while
    no scheduler ran fires once), update a changed cron, disable the rows of classes that
    lost their schedule, became invalid or are no longer registered (``reason`` says which),
    re-enable those that got it back. Returns counts ``created``/``updated``/``disabled``."""
    now = now or utcnow()
    entries = {entry.qual_name: entry for entry in registry()}
    wanted = {name: entry.schedule for name, entry in entries.items() if entry.schedule}
    since = bookmark() or now
    counts = {"created": 0, "updated": 0, "disabled": 0}
    rows = {row.name: row for row in Schedule.objects.filter(source=Schedule.CLASS)}
    for name, expr in sorted(wanted.items()):
        row = rows.get(name)
        if row is None:
            counts["created"] += _create_class_row(name, expr, since, now)
        elif (row.cron, row.interval, row.timezone, row.enabled) != (expr, None, "UTC", True):
            changed = row.cron != expr or row.interval or row.timezone != "UTC"
            row.cron, row.interval, row.timezone = expr, None, "UTC"
            if changed or not row.enabled or row.next_run is None:
                row.next_run = compute_next_run(row, now)
            row.enabled, row.reason, row.updated_at = True, "", now
            row.save(update_fields=["cron", "interval", "timezone", "next_run", "enabled",
                                    "reason", "updated_at"])  # fmt: skip
            Schedule.objects.filter(pk=row.pk).update(etag=F("etag") + 1)
            counts["updated"] += 1
    for name, row in rows.items():
        if name in wanted or not row.enabled:
            continue
        entry = entries.get(name)
        if entry is None:
            reason = f"job class [{name}] is not registered"
        elif entry.error:
            reason = f"job class [{name}] is invalid: {entry.error}"
        else:
            reason = f"job class [{name}] has no schedule"
        with transaction.atomic():
            _disable(row, reason, now)
            row.save(update_fields=["enabled", "reason", "updated_at", "etag"])
        counts["disabled"] += 1
    if any(counts.values()):
        log.info("class schedules synchronised: %s", counts)
    return counts


def _create_class_row(name: str, expr: str, since: datetime, now: datetime) -> int:
    row = Schedule(name=name, cron=expr, timezone="UTC", source=Schedule.CLASS,
                   created_by=services.SCHEDULER, created_at=now, updated_at=now)  # fmt: skip
    row.next_run = compute_next_run(row, min(since, now))
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:  # another process created it meanwhile
        return 0
    return 1


__all__ = [
    "BOOKMARK",
    "ENQUEUED",
    "EXISTS",
    "FAILED",
    "Scheduler",
    "Step",
    "bookmark",
    "compute_next_run",
    "fire",
    "set_bookmark",
    "sync_class_schedules",
]
