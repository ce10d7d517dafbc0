"""When a schedule is due: cron expressions (croniter syntax) in a time zone, or a fixed
interval. Pure functions on aware UTC datetimes; the scheduler, the REST API, the admin and
the registry all ask here, so "when next" is computed one way.

* :func:`validate_cron` / :func:`validate_timezone` / :func:`validate_interval` raise
  ``ValueError`` with a message that can be shown as is;
* :func:`next_after` is the first due time strictly after ``after`` (UTC in, UTC out).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter

#: longest cron expression / zone name accepted (named limits)
CRON_MAX_LENGTH = 255
TIMEZONE_MAX_LENGTH = 64
#: shortest and longest fixed interval in seconds
INTERVAL_MIN = 1
INTERVAL_MAX = 366 * 24 * 3600


def validate_cron(expr: object) -> str:
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError("cron expected a non-empty string like '*/5 * * * *'")
    if len(expr) > CRON_MAX_LENGTH:
        raise ValueError(f"cron longer than {CRON_MAX_LENGTH} characters")
    expr = " ".join(expr.split())
    if len(expr.split(" ")) != 5 or not croniter.is_valid(expr):
        raise ValueError(
            f"invalid cron expression [{expr}]: five fields expected, like '*/5 * * * *'"
        )
    return expr


def validate_timezone(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > TIMEZONE_MAX_LENGTH:
        raise ValueError(f"timezone expected a zone name like 'Europe/Berlin', got {name!r}")
    if name not in _zones():
        raise ValueError(f"unknown timezone [{name}]")
    return name


def validate_interval(seconds: object) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ValueError(f"interval expected whole seconds, got {seconds!r}")
    if not INTERVAL_MIN <= seconds <= INTERVAL_MAX:
        raise ValueError(f"interval must be between {INTERVAL_MIN} and {INTERVAL_MAX} seconds")
    return seconds


def next_after(
    after: datetime, *, cron: str = "", interval: int | None = None, timezone: str = "UTC"
) -> datetime:
    """The first due time strictly after ``after`` (aware), as an aware UTC datetime."""
    if interval:
        return (after + timedelta(seconds=interval)).astimezone(UTC)
    zone = ZoneInfo(timezone)
    local = after.astimezone(zone)
    return croniter(cron, local).get_next(datetime).astimezone(UTC)


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


__all__ = [
    "CRON_MAX_LENGTH",
    "INTERVAL_MAX",
    "INTERVAL_MIN",
    "TIMEZONE_MAX_LENGTH",
    "ZoneInfoNotFoundError",
    "next_after",
    "validate_cron",
    "validate_interval",
    "validate_timezone",
]
