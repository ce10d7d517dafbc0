"""Schedules managed at run time: the one service API behind the admin, REST and ``coco``.

Every function validates once, here: the job name resolves in the registry
(:func:`jobqueue.registry.resolve`; unknown → ``JobNotFound`` ``job [x] not found``, nothing
imported), ``args`` are checked as an enqueue checks them
(:func:`jobqueue.job.split_kwargs`), exactly one of ``cron`` and ``interval`` is given, the
zone is known (:mod:`jobqueue.cron`), and ``next_run`` is computed on create, update and
enable (``None`` while disabled). Schedules of ``source=class`` (a job class's ``schedule``
attribute) are read-only: changing, enabling, disabling or deleting one is a
``ScheduleReadOnly`` in words; "run now" is allowed (it only enqueues).

Permissions are the caller's business, as in :mod:`jobqueue.services`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from core4api.ids import utcnow
from jobqueue import cron, scheduling
from jobqueue.errors import JobInvalid, JobNotFound, JobStateError
from jobqueue.job import split_kwargs
from jobqueue.models import Job, Schedule
from jobqueue.registry import resolve
from jobqueue.transitions import author_of

#: Longest ``reason`` (why a schedule is disabled), in characters.
REASON_MAX_LENGTH = 1000
#: The fields a client may set.
FIELDS = ("name", "args", "cron", "interval", "timezone", "enabled", "reason")

__all__ = [
    "FIELDS",
    "REASON_MAX_LENGTH",
    "EtagConflict",
    "ScheduleReadOnly",
    "create",
    "delete",
    "describe",
    "disable",
    "enable",
    "get",
    "run_now",
    "update",
    "validate",
]


class ScheduleReadOnly(JobStateError):
    """A class schedule (``source=class``) cannot be changed at run time."""

    def __init__(self, schedule: Schedule, verb: str):
        super().__init__(
            f"schedule [{schedule.id}] comes from the job class [{schedule.name}] and is "
            f"read-only: {verb} it by changing the class's schedule attribute"
        )


class EtagConflict(JobStateError):
    """The client's etag is not the stored one (core4's optimistic locking, → 400)."""

    def __init__(self, pk: str, etag: object):
        super().__init__(f"update [{pk}] with etag [{str(etag)[:64]}] failed")


@dataclass
class Definition:
    """A schedule's validated fields."""

    name: str
    args: dict[str, Any]
    cron: str
    interval: int | None
    timezone: str
    enabled: bool
    reason: str


def validate(name: object, fields: dict[str, Any]) -> Definition:
    """``name`` and ``fields`` (``args cron interval timezone enabled reason``, defaults for
    the missing ones) checked and normalised; a ``JobError`` (its message in words) if not."""
    unknown = sorted(str(key) for key in set(fields) - set(FIELDS))
    if unknown:
        raise JobInvalid(f"unknown field [{unknown[0][:100]}]: fields are {list(FIELDS)}")
    args = fields.get("args")
    cron_expr = fields.get("cron", "")
    interval = fields.get("interval")
    timezone = fields.get("timezone", "UTC")
    enabled = fields.get("enabled", True)
    reason = fields.get("reason", "")
    cls = resolve(name)  # JobNotFound / JobInvalid, never an import
    assert isinstance(name, str)
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise JobInvalid(f"[args] expected a dict, got {type(args).__name__}")
    _settings, checked = split_kwargs(cls, name, {"args": args})
    cron_expr = "" if cron_expr is None else cron_expr
    if isinstance(cron_expr, str) and not cron_expr.strip():
        cron_expr = ""
    if (cron_expr == "") == (interval is None):
        raise JobInvalid("give exactly one of [cron] and [interval]")
    try:
        if cron_expr != "":
            cron_expr = cron.validate_cron(cron_expr)
        else:
            interval = cron.validate_interval(interval)
        timezone = cron.validate_timezone("UTC" if timezone in (None, "") else timezone)
    except ValueError as exc:
        raise JobInvalid(str(exc)) from None
    if not isinstance(enabled, bool):
        raise JobInvalid(f"[enabled] expected true or false, got {enabled!r}")
    reason = "" if reason is None else reason
    if not isinstance(reason, str):
        raise JobInvalid(f"[reason] expected text, got {type(reason).__name__}")
    if len(reason) > REASON_MAX_LENGTH:
        raise JobInvalid(f"[reason] longer than {REASON_MAX_LENGTH} characters")
    return Definition(name, checked, str(cron_expr), interval, str(timezone), enabled, reason)  # type: ignore[arg-type]


def _apply(schedule: Schedule, definition: Definition) -> None:
    for key, value in vars(definition).items():
        setattr(schedule, key, value)
    schedule.next_run = scheduling.compute_next_run(schedule) if schedule.enabled else None


def get(schedule_id: object) -> Schedule:
    if not isinstance(schedule_id, str) or not schedule_id or len(schedule_id) > 64:
        raise JobNotFound(f"schedule [{str(schedule_id)[:64]}] not found")
    try:
        return Schedule.objects.get(pk=schedule_id)
    except Schedule.DoesNotExist:
        raise JobNotFound(f"schedule [{schedule_id}] not found") from None


def _locked(schedule_id: object) -> Schedule:
    get(schedule_id)  # the same 404 for a bad id
    return Schedule.objects.select_for_update().get(pk=schedule_id)


def _check_etag(schedule: Schedule, etag: object) -> None:
    value = etag
    if isinstance(etag, str) and etag.strip().isdigit():
        value = int(etag.strip())
    if isinstance(value, bool) or value != schedule.etag:
        raise EtagConflict(schedule.id, etag)


def _touch(schedule: Schedule) -> None:
    schedule.etag += 1
    schedule.updated_at = utcnow()


def create(name: object, by: str | None = None, **fields: Any) -> Schedule:
    """A new runtime schedule; ``fields`` among ``args cron interval timezone enabled reason``."""
    definition = validate(name, fields)
    schedule = Schedule(source=Schedule.RUNTIME, created_by=author_of(by))
    _apply(schedule, definition)
    schedule.save(force_insert=True)
    return schedule


def update(
    schedule_id: object, etag: object, by: str | None = None, **changes: Any
) -> Schedule | None:
    """Apply ``changes`` if ``etag`` is current; ``None`` when nothing changed. The result
    must still have exactly one of ``cron`` and ``interval`` (send ``"interval": null`` to
    switch to a cron expression)."""
    unknown = sorted(str(key) for key in set(changes) - set(FIELDS))
    if unknown:
        raise JobInvalid(f"unknown field [{unknown[0][:100]}]: fields are {list(FIELDS)}")
    with transaction.atomic():
        schedule = _locked(schedule_id)
        if schedule.source == Schedule.CLASS:
            raise ScheduleReadOnly(schedule, "change")
        _check_etag(schedule, etag)
        current = {key: getattr(schedule, key) for key in FIELDS}
        merged = {**current, **changes}
        definition = validate(merged.pop("name"), merged)
        if vars(definition) == current:
            return None
        if definition.enabled != schedule.enabled and "reason" not in changes:
            definition.reason = "" if definition.enabled else f"disabled by {author_of(by)}"
        _apply(schedule, definition)
        _touch(schedule)
        schedule.save()
        return schedule


def delete(schedule_id: object, etag: object, by: str | None = None) -> None:
    with transaction.atomic():
        schedule = _locked(schedule_id)
        if schedule.source == Schedule.CLASS:
            raise ScheduleReadOnly(schedule, "delete")
        _check_etag(schedule, etag)
        schedule.delete()


def enable(schedule_id: object, by: str | None = None) -> tuple[Schedule, bool]:
    """Enable it (``next_run`` from now on, ``reason`` cleared); ``(schedule, changed)``."""
    with transaction.atomic():
        schedule = _locked(schedule_id)
        if schedule.source == Schedule.CLASS:
            raise ScheduleReadOnly(schedule, "enable")
        if schedule.enabled:
            return schedule, False
        schedule.enabled, schedule.reason = True, ""
        schedule.next_run = scheduling.compute_next_run(schedule)
        _touch(schedule)
        schedule.save()
        return schedule, True


def disable(
    schedule_id: object, reason: object = "", by: str | None = None
) -> tuple[Schedule, bool]:
    """Disable it, saying why (``reason``; default: who disabled it); ``(schedule, changed)``."""
    if reason is not None and not isinstance(reason, str):
        raise JobInvalid(f"[reason] expected text, got {type(reason).__name__}")
    if reason and len(reason) > REASON_MAX_LENGTH:
        raise JobInvalid(f"[reason] longer than {REASON_MAX_LENGTH} characters")
    with transaction.atomic():
        schedule = _locked(schedule_id)
        if schedule.source == Schedule.CLASS:
            raise ScheduleReadOnly(schedule, "disable")
        if not schedule.enabled:
            return schedule, False
        schedule.enabled, schedule.next_run = False, None
        schedule.reason = reason or f"disabled by {author_of(by)}"
        _touch(schedule)
        schedule.save()
        return schedule, True


def run_now(schedule_id: object, by: str | None = None) -> Job:
    """Enqueue the schedule's job now (also for a disabled or class schedule); ``next_run``
    stays. Raises the enqueue's ``JobError`` (e.g. ``JobExists``), recorded as the outcome."""
    schedule = get(schedule_id)
    return scheduling.fire(schedule, by, utcnow())


def describe(schedule: Schedule) -> str:
    """``*/5 * * * * Europe/Berlin`` or ``every 60 s``: the schedule in one line."""
    if schedule.cron:
        zone = schedule.timezone
        return schedule.cron if zone == "UTC" else f"{schedule.cron} ({zone})"
    return f"every {schedule.interval} s"
