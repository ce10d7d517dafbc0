"""Jobs, log lines and workers as API clients see them (core4's ``enrich_job``), masked.

A job the user may not read keeps its id, state and timestamps but shows as
``UnauthorizedJob`` with no arguments, no progress message and no last error: its name and
arguments must not leak.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from core4api.ids import isoformat, utcnow
from jobqueue import services
from jobqueue.models import Job, WorkerRecord
from jobqueue.states import FINAL, HIGHSTATE, INACTIVE, STOPPED, UNAUTHORIZED

API_ROOT = "/core4/api/v1"

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: A line the job's logger wrote through the project's ``plain`` log format.
LOG_LINE = re.compile(
    r"^(?P<created>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+(?P<logger>\S+): "
)


def is_final(job: Job) -> bool:
    """Nothing will happen to this job any more: final state, or taken out of the queue."""
    return job.journaled or job.state in FINAL


def ended_at(job: Job) -> datetime | None:
    """When a finished job ended (``queries.ENDED_AT`` in SQL): when it left the queue, or —
    stopped for good and still in it — when it became inactive or last finished; None for a
    job that is not finished."""
    if job.journaled:
        return job.journaled_at or job.finished_at or job.enqueued_at
    if job.state not in STOPPED:
        return None
    at = job.inactive_at if job.state == INACTIVE else job.finished_at
    return at or job.finished_at or job.enqueued_at


def job_url(job_id: str | None) -> str | None:
    return f"{API_ROOT}/job/{job_id}" if job_id else None


def job_document(
    job: Job, readable: bool, now: datetime | None = None, result: bool = False
) -> dict[str, Any]:
    """The job, enriched as core4 does (``qual_name``, ``highstate``, ``flag``, ``age``,
    ``journal``) with links to its parent, child and log; with ``result`` (what ``execute``
    returned, up to ``CORE4_RESULT_MAX`` bytes) only if asked — a single job's document,
    not a listing's items."""
    data = services.job_detail(job, result=result)
    data.pop("name", None)
    journal = data.pop("journaled", job.journaled)
    prog = dict(data.get("prog") or {})
    if prog.get("value") is None:
        prog["value"] = 0.0
    now = now or utcnow()
    document = {
        "_id": job.id,
        "qual_name": job.name if readable else UNAUTHORIZED,
        **data,
        "journal": journal,
        "journaled_at": isoformat(job.journaled_at),
        "ended_at": isoformat(ended_at(job)),
        "highstate": HIGHSTATE.get(job.state, job.state),
        "flag": {
            "zombie": job.zombie_at is not None,
            "killed": job.killed_at is not None,
            "removed": job.removed_at is not None,
            "nonstop": job.wall_at is not None,
        },
        "age": max((now - job.enqueued_at).total_seconds(), 0.0),
        "prog": prog,
        "links": {
            "self": job_url(job.id),
            "parent": job_url(job.parent_id),
            "child": job_url(job.child_id),
            "log": f"{API_ROOT}/job/log/{job.id}",
        },
    }
    if not readable:
        document["args"] = None
        document["last_error"] = None
        if result:
            document["result"] = None
        document["prog"] = {"value": prog["value"], "message": None}
    return document


def state_snapshot(document: dict[str, Any]) -> dict[str, Any]:
    """What identifies a change of the job (``age`` changes by itself)."""
    return {key: value for key, value in document.items() if key != "age"}


def log_item(job: Job, lineno: int, line: str) -> dict[str, Any]:
    """One line of the job's captured output; lines of its logger carry their level."""
    match = LOG_LINE.match(line)
    return {
        "identifier": job.id,
        "qual_name": job.name,
        "lineno": lineno,
        "level": match.group("level") if match else json_log_level(line),
        "message": line,
    }


def json_log_level(line: str) -> str | None:
    """The level of a line the job's logger wrote in the JSON log format
    (``CORE4_LOG_FORMAT=json``: ``{"time": …, "level": "INFO", …, "job_id": …}``), else None."""
    if not (line.startswith("{") and '"job_id"' in line):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    level = record.get("level") if isinstance(record, dict) else None
    return level if level in LEVELS else None


def output_lines(text: str) -> list[str]:
    return text.splitlines()


def worker_document(
    record: WorkerRecord,
    running: Iterable[Job],
    can_read: Callable[[str], bool],
    mode: str = "active",
) -> dict[str, Any]:
    return {
        "identifier": record.identifier,
        "mode": mode,
        "hostname": record.hostname,
        "pid": record.pid,
        "started": isoformat(record.started),
        "heartbeat": isoformat(record.heartbeat),
        "concurrency": record.concurrency,
        "running": [
            {
                "_id": job.id,
                "qual_name": job.name if can_read(job.name) else UNAUTHORIZED,
                "started_at": isoformat(job.started_at),
                "prog": {"value": job.prog_value if job.prog_value is not None else 0.0},
            }
            for job in running
        ],
    }
