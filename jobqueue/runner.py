"""The job's side of a job process: runs in the child forked by the worker.

The child never touches the worker's database connections: it drops its references to
the inherited ones without closing them (closing would end the parent's sessions on the
shared sockets) and leaves with ``os._exit``. It reports to the worker through a pipe,
one JSON object per line — ``started``, ``progress``, ``done`` (with the job's result, checked
and size-bounded here by :func:`jobqueue.results.check`) — and the worker performs
the transitions, so a job that is SIGKILLed or dies loses nothing the worker cannot settle.
The job's stdout and stderr (C level included) go to a file the worker stores with the job.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

from jobqueue.job import SETTINGS, JobDeferred
from jobqueue.registry import resolve
from jobqueue.results import ResultError
from jobqueue.results import check as check_result

#: Inherited connection objects, referenced until ``os._exit`` so they are never finalised.
_INHERITED: list[Any] = []
#: Called in the job process right before it leaves (``os._exit`` skips ``atexit``): apps
#: that buffer work for a background thread flush it here (the events app's announcements
#: of transitions a job made itself, e.g. an enqueue).
before_exit: list[Callable[[], Any]] = []


def detach_inherited(*extra: Any) -> None:
    """Forget the parent's database connections in a forked child (never close them)."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            _INHERITED.append(conn.connection)
            conn.connection = None
            conn.in_atomic_block = False
            conn.savepoint_ids = []
            conn.needs_rollback = False
            conn.run_on_commit = []
    _INHERITED.extend(extra)
    connections.close_all()  # nothing left to close: fresh connections on first use


def error_info(exc: BaseException) -> dict:
    return {
        "exception": repr(exc),
        "exception_class": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "traceback": traceback.format_exception(type(exc), exc, exc.__traceback__),
    }


class Reporter:
    """The job process's end of its report pipe: one JSON object per line (the only
    job process → worker message format, fork and pool alike). ``kind`` is ``started``
    (``pid``), ``progress`` (``value``, ``message``) or ``done`` (``outcome``: ``complete``,
    ``defer`` + ``message``, ``fail`` / ``failed_start`` + ``error``); the worker's reader
    is ``jobqueue.processes.Processes._handle``."""

    def __init__(self, fd: int):
        self.fd = fd

    def send(self, **message: Any) -> None:
        data = (json.dumps(message, default=str) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.fd, data) :]
        except OSError:  # the worker is gone: nobody to report to
            os._exit(1)


def run_child(job: dict, report_fd: int, output_fd: int, keep: tuple = ()) -> None:
    """Entry point in the forked child; never returns."""
    code = 0
    try:
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)  # kill() takes the job's own subprocesses too
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(-1)
        detach_inherited(*keep)
        _redirect(output_fd)
        execute(job, Reporter(report_fd))
    except BaseException:  # noqa: BLE001 - nothing may escape into the worker's code
        code = 1
    finally:
        for hook in before_exit:
            with contextlib.suppress(BaseException):
                hook()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _redirect(output_fd: int) -> None:
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    streams()


def streams() -> None:
    """``sys.stdout``/``sys.stderr`` (and the root logger's stream handlers) on fds 1 and 2,
    line-buffered: whatever file those descriptors are, the job's output goes there."""
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.setStream(sys.stderr)


class _JobTag(logging.Filter):
    """Gives every log record of a job process the job's ``job_id`` and ``job_name`` (the
    JSON log format writes them; the plain one ignores them)."""

    def __init__(self, job_id: str, job_name: str):
        super().__init__()
        self.job_id, self.job_name = job_id, job_name

    def filter(self, record: logging.LogRecord) -> bool:
        record.job_id = self.job_id
        record.job_name = self.job_name
        return True


def _tag_log_records(job_id: str, job_name: str) -> None:
    """Tag the records of this job (a pool process runs many: the previous job's tag goes)."""
    tag = _JobTag(job_id, job_name)
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, _JobTag)]:
            handler.removeFilter(old)
        handler.addFilter(tag)


def execute(data: dict, pipe: Reporter) -> None:
    """Load the job from ``data`` (``processes.job_data``), run it, report on ``pipe``."""
    try:
        cls = resolve(data["name"])
        job = cls(
            _id=data["id"],
            name=data["name"],
            args=data["args"],
            trial=data["trial"],
            attempts_left=data["attempts_left"],
            enqueued=data["enqueued"],
            **{key: data[key] for key in SETTINGS},
        )
    except BaseException as exc:  # noqa: BLE001 - reported as failed_start
        print(f"failed to load job [{data['name']}]: {exc}", file=sys.stderr)
        pipe.send(kind="done", outcome="failed_start", error=error_info(exc))
        return
    _tag_log_records(data["id"], data["name"])
    job._reporter = lambda value, message: pipe.send(kind="progress", value=value, message=message)
    pipe.send(kind="started", pid=os.getpid())
    job.logger.info("start execution")
    try:
        value = job.execute(**job.args)
    except JobDeferred as exc:
        outcome = {"outcome": "defer", "message": str(exc)}
    except BaseException as exc:  # noqa: BLE001 - any failure of the job is its result
        traceback.print_exc()
        outcome = {"outcome": "fail", "error": error_info(exc)}
    else:
        outcome = completed(value)
    sys.stdout.flush()
    sys.stderr.flush()
    pipe.send(kind="done", **outcome)


def completed(value: Any) -> dict[str, Any]:
    """The ``done`` report of a job whose ``execute`` returned ``value``: complete with the
    result, or a failure if the value cannot be a result (not JSON, too big)."""
    try:
        result = check_result(value)
    except ResultError as exc:
        print(f"job failed: {exc}", file=sys.stderr)
        return {"outcome": "fail", "error": {"exception": repr(exc), "traceback": None}}
    return {"outcome": "complete", "result": result}
