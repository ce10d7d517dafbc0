"""``CORE4_LOG_FORMAT=json``: one JSON object per line (python-json-logger).

Every line has ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``, ``pid``
and ``message``; ``exc_info`` when an exception is logged; lines written in a job process
also ``job_id`` and ``job_name`` (set by ``jobqueue.runner``), and any ``extra=`` fields.
The access log writes its own objects (:func:`access_entry`). The default, ``plain``, stays
the human-readable ``%(asctime)s %(levelname)-7s %(name)s: %(message)s``.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"}


def utc_iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(_JsonFormatter):
    """The project's JSON lines (the ``json`` formatter of ``LOGGING``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", FIELDS)
        kwargs.setdefault("rename_fields", RENAMED)
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return utc_iso(record.created)


def access_entry(host: str, date: datetime, request: str, status=None, length=None) -> str:
    """One access-log line as JSON: the fields of every line (``message``: method and path)
    and ``client``, ``method``, ``path`` (already redacted), ``status``, ``bytes``."""
    method, _, path = request.partition(" ")
    return json.dumps(
        {
            "time": date.astimezone(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": "access",
            "pid": os.getpid(),
            "message": request,
            "client": host,
            "method": method,
            "path": path,
            "status": status,
            "bytes": length,
        },
        ensure_ascii=False,
    )
