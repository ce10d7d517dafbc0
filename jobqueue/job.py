"""``CoreJob``: the base class of every job, and the rules for its settings.

A job class sets ``author`` on itself, may set any setting of ``SETTINGS`` as a class
attribute and implements ``execute(self, **kwargs)``. Enqueue keywords named like a setting
override it; every other keyword is a job argument passed to ``execute``. Inside
``execute`` the job may call ``self.progress(value, message)`` (also its heartbeat) and
``self.defer(message)``, and read ``trial``, ``attempts_left``, ``enqueued``, ``args``,
``_id`` and ``logger``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from jobqueue import backoff
from jobqueue.cron import validate_cron
from jobqueue.errors import JobInvalid


def _int_gt0(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobInvalid(f"[{name}] expected int, got {value!r}")
    if value <= 0:
        raise JobInvalid(f"[{name}] > 0 expected, got {value!r}")
    if value > 2**31 - 1:
        raise JobInvalid(f"[{name}] out of range: {value!r}")
    return value


def _int_gt0_null(name: str, value: Any) -> int | None:
    return None if value is None else _int_gt0(name, value)


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobInvalid(f"[{name}] expected int, got {value!r}")
    if abs(value) > 2**31 - 1:
        raise JobInvalid(f"[{name}] out of range: {value!r}")
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise JobInvalid(f"[{name}] expected bool, got {value!r}")
    return value


def _str_null(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value or len(value) > 255):
        raise JobInvalid(f"[{name}] expected str or None, got {value!r}")
    return value


#: setting → (default, validator).
SETTINGS: dict[str, tuple[Any, Callable[[str, Any], Any]]] = {
    "attempts": (1, _int_gt0),
    "defer_time": (300, _int_gt0),
    "defer_max": (3600, _int_gt0),
    "error_time": (600, backoff.validate),  # seconds, or a backoff spec (``jobqueue.backoff``)
    "wall_time": (None, _int_gt0_null),
    "zombie_time": (1800, _int_gt0),
    "max_parallel": (15, _int_gt0),
    "priority": (0, _int),
    "force": (False, _bool),
    "progress_interval": (5, _int_gt0),
    "worker": (None, _str_null),
    "timeout": (None, _int_gt0_null),  # seconds; a job still running then is killed (failed)
}
#: setting → default (the model's column defaults too).
DEFAULTS: dict[str, Any] = {key: default for key, (default, _check) in SETTINGS.items()}
#: Enqueue keywords that are neither settings nor arguments (only a restart passes them).
INTERNAL = ("trial",)


class JobDeferred(Exception):  # the name core4 users know
    """Raised by ``CoreJob.defer``: the job wants to run again after ``defer_time``."""


class CoreJob:
    """Base class of all jobs. Subclasses set ``author`` and implement ``execute``."""

    author: str | None = None
    #: a cron expression (croniter syntax, UTC): the scheduler enqueues the job (without
    #: arguments) when due. Not inherited: only a class's own ``schedule`` counts.
    schedule: str | None = None

    attempts = DEFAULTS["attempts"]
    defer_time = DEFAULTS["defer_time"]
    defer_max = DEFAULTS["defer_max"]
    error_time = DEFAULTS["error_time"]
    wall_time = DEFAULTS["wall_time"]
    zombie_time = DEFAULTS["zombie_time"]
    max_parallel = DEFAULTS["max_parallel"]
    priority = DEFAULTS["priority"]
    force = DEFAULTS["force"]
    progress_interval = DEFAULTS["progress_interval"]
    worker = DEFAULTS["worker"]
    timeout = DEFAULTS["timeout"]
    #: ``fork`` (default): each run in a fresh process; ``pool``: in a reused process of the
    #: worker's warm pool (``jobqueue.pool``). Not an enqueue setting.
    run_mode = "fork"

    def __init__(self, *, _id: str | None = None, name: str | None = None, args=None, **state):
        self._id = _id
        self.name = name or qual_name(type(self))
        self.args = dict(args or {})
        self.trial = state.pop("trial", 0)
        self.attempts_left = state.pop("attempts_left", None)
        self.enqueued = state.pop("enqueued", {})
        for key, value in state.items():
            if key in SETTINGS:
                setattr(self, key, value)
        self.logger = logging.getLogger(f"job.{self.name}")
        self._reporter: Callable[[float, str], None] | None = None
        self._next_progress = 0.0

    def execute(self, **kwargs) -> Any:
        """The job's work; what it returns (JSON, at most ``CORE4_RESULT_MAX`` bytes) is
        stored as the job's ``result``."""
        raise NotImplementedError(f"{type(self).__name__}.execute() is not implemented")

    def progress(self, value: float, message: str = "", *args, force: bool = False) -> None:
        """Report progress (a fraction 0..1); throttled by ``progress_interval``.

        It is the job's heartbeat too: a job that does not report progress for
        ``zombie_time`` seconds is flagged zombie.
        """
        now = time.monotonic()
        if not force and now < self._next_progress:
            return
        self._next_progress = now + self.progress_interval
        if args:
            message = message % args
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"progress value must be a number, not {value!r}") from None
        self.logger.debug("progress [%d%%] - %s", round(value * 100), message)
        if self._reporter is not None:
            self._reporter(value, str(message))

    def defer(self, message: str = "", *args) -> None:
        """Stop now and run again after ``defer_time`` (until ``defer_max`` has passed)."""
        raise JobDeferred(message % args if args else message)

    @property
    def id(self) -> str | None:
        return self._id


def qual_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def validate_class(cls: type[CoreJob], name: str) -> None:
    """Raise ``JobInvalid`` if ``cls`` cannot run: core4 wants an ``author`` of the class's own
    (not inherited) and valid class settings."""
    author = cls.__dict__.get("author")
    if not isinstance(author, str) or not author.strip():
        raise JobInvalid(f"missing author in [{name}]")
    if cls.run_mode not in ("fork", "pool"):
        raise JobInvalid(f"job [{name}] has an invalid run_mode {cls.run_mode!r} (fork or pool)")
    class_settings(cls, name)
    class_schedule(cls, name)


def class_schedule(cls: type[CoreJob], name: str) -> str | None:
    """The class's own ``schedule`` (core4: not inherited), validated; None without one."""
    schedule = cls.__dict__.get("schedule")
    if schedule is None:
        return None
    try:
        return validate_cron(schedule)
    except ValueError as exc:
        raise JobInvalid(f"job [{name}] has an invalid schedule: {exc}") from None


def class_settings(cls: type[CoreJob], name: str) -> dict[str, Any]:
    """The class's settings, validated (a bad class attribute is the class's fault)."""
    values = {}
    for key, (_default, check) in SETTINGS.items():
        try:
            values[key] = check(key, getattr(cls, key))
        except JobInvalid as exc:
            raise JobInvalid(f"job [{name}] has an invalid class setting: {exc}") from None
    return values


def split_kwargs(cls: type[CoreJob], name: str, kwargs: dict[str, Any]) -> tuple[dict, dict]:
    """Enqueue keywords → (validated settings incl. class defaults, job arguments)."""
    values = class_settings(cls, name)
    args = {}
    explicit = kwargs.pop("args", None) if "args" in kwargs else None
    if explicit is not None:
        if not isinstance(explicit, dict):
            raise JobInvalid(f"[args] expected a dict, got {explicit!r}")
        args.update(explicit)
    for key, value in kwargs.items():
        if key in SETTINGS:
            values[key] = SETTINGS[key][1](key, value)
        else:
            if not isinstance(key, str) or not key.isidentifier():
                raise JobInvalid(f"argument name [{key}] is not a valid identifier")
            args[key] = value
    return values, args
