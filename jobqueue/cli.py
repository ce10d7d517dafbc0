"""Helpers shared by the queue's management commands (``enqueue``, ``coco``, ``worker``)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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


@dataclass
class ManyResult:
    """What a bulk enqueue did: jobs enqueued, and ``[line, qual_name, args]`` of those
    that existed (or repeated an earlier line)."""

    enqueued: int = 0
    existing: list[list] = field(default_factory=list)


def read_lines(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, job)`` of a JSON-lines file (``-``: standard input); blank lines skipped."""
    stream = sys.stdin if path == "-" else None
    try:
        handle = stream or open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CommandError(f"cannot read [{path}]: {exc.strerror}") from None
    try:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                job = json.loads(line)
            except ValueError as exc:
                raise CommandError(f"line {number}: not JSON: {exc}") from None
            if not isinstance(job, dict):
                raise CommandError(f"line {number}: expected a JSON object with qual_name")
            yield number, job
    finally:
        if stream is None:
            handle.close()


def numbered_jobs(
    qual_name: str, items: list[str], count: int, index_arg: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``count`` jobs of ``qual_name`` with the ``key=value`` items, numbered by ``index_arg``."""
    if count < 0:
        raise CommandError("--count must be 0 or more")
    if not index_arg.isidentifier():
        raise CommandError(f"--index-arg [{index_arg}] is not a valid argument name")
    from jobqueue.job import SETTINGS

    values = parse_assignments(items)
    args = values.pop("args", None) or {}
    if not isinstance(args, dict):
        raise CommandError("args must be a JSON object")
    settings = {key: value for key, value in values.items() if key in SETTINGS}
    args = {**args, **{key: value for key, value in values.items() if key not in SETTINGS}}
    for number in range(count):
        yield number + 1, {"qual_name": qual_name, **settings, "args": {**args, index_arg: number}}


def enqueue_lines(jobs: Iterable[tuple[int, dict[str, Any]]], by: str | None = None) -> ManyResult:
    """Enqueue ``(line, job)`` pairs, one transaction per ``CORE4_ENQUEUE_MANY_MAX`` jobs."""
    from core4api.limitvalues import limit
    from jobqueue import services

    size = max(limit("CORE4_ENQUEUE_MANY_MAX"), 1)
    result = ManyResult()
    batch: list[tuple[int, dict[str, Any]]] = []

    def flush() -> None:
        try:
            created = services.enqueue_many([job for _, job in batch], by=by)
        except JobError as exc:
            message = re.sub(r"^jobs\[(\d+)\]", lambda m: f"line {batch[int(m[1])][0]}", str(exc))
            raise CommandError(message) from None
        for (number, job), new in zip(batch, created, strict=True):
            if new is None:
                args = json.dumps(job.get("args", {}), sort_keys=True)
                result.existing.append([number, job["qual_name"], args])
            else:
                result.enqueued += 1
        batch.clear()

    for item in jobs:
        batch.append(item)
        if len(batch) == size:
            flush()
    if batch:
        flush()
    return result


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
