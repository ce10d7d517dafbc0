"""Helpers shared by the queue's management commands (``enqueue``, ``coco``, ``worker``)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import CommandError
from tabulate import tabulate

from core4api.ids import utcnow
from jobqueue.errors import JobError
from jobqueue.models import Job
from jobqueue.states import RUNNING

ASSIGNMENT = re.compile(r"^\s*([A-Za-z_]\w*)\s*[:=](.*)$", re.S)


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """``key=value`` words → dict; values are JSON when they parse as JSON, else strings."""
    values: dict[str, Any] = {}
    for item in items:
        match = ASSIGNMENT.match(item)
        if not match:
            raise CommandError(f"bad argument [{item}]: expected key=value")
        key, raw = match.group(1), match.group(2).strip()
        if key in values:
            raise CommandError(f"argument [{key}] given twice")
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw
    return values


def enqueue(qual_name: str, items: list[str], by: str | None = None) -> Job:
    from jobqueue import public

    kwargs = parse_assignments(items)
    try:
        return public.enqueue_job(qual_name, by=by, **kwargs)
    except JobError as exc:
        raise CommandError(str(exc)) from None


def duration(seconds: float | None) -> str:
    """Seconds as ``H:MM:SS`` (the one format of every duration coco prints); ``""`` for None."""
    if seconds is None:
        return ""
    hours, rest = divmod(max(int(seconds), 0), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def age(value: datetime | None, now: datetime | None = None) -> str:
    """Time since ``value`` as ``H:MM:SS``; ``""`` for None."""
    if value is None:
        return ""
    return duration(((now or utcnow()) - value).total_seconds())


def attempt(job: Job) -> str:
    """``n/m``: attempts used of the attempts allowed, the running one counted.

    An attempt is used when a run completes or fails (``attempts_left`` goes down); a run that
    defers or is killed uses none. The dashboard shows the same number; ``trial`` (every run,
    deferrals included) is in ``coco --detail`` and the job document.
    """
    used = job.attempts - job.attempts_left + (1 if job.state == RUNNING else 0)
    return f"{used}/{job.attempts}"


def when(value: datetime | None) -> str:
    """A UTC time as ``YYYY-MM-DD HH:MM:SS`` (coco's one format); ``""`` for None."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def progress(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f}%"


def flags(job_or_row) -> str:
    get = job_or_row.get if isinstance(job_or_row, dict) else job_or_row.flags.get
    return "".join(
        letter.upper() if get(name) else "."
        for letter, name in (("z", "zombie"), ("w", "wall"), ("r", "removed"), ("k", "killed"))
    )


def table(rows: list[list], headers: list[str]) -> str:
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)
