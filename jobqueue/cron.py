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
    """The first due time strictly after ``after`` (aware), as an aware UTC datetime.

    A cron expression is read on the wall clock of ``timezone``; across a DST change:

    * a time that does not exist (the hour skipped in spring) is due at the first valid
      instant after the gap (``30 2 * * *`` in Berlin on 2026-03-29: 03:00 CEST), once;
    * a time that exists twice (the hour repeated in autumn) is due once, at its first
      occurrence, for a *fixed-time* schedule (hour field not starting with ``*``); a
      schedule whose hour field starts with ``*`` (every hour, ``*/2``) runs by elapsed
      time and is due at both occurrences (``*/15 * * * *`` fires every 15 real minutes
      through the repeated hour).
    """
    if interval:
        return (after + timedelta(seconds=interval)).astimezone(UTC)
    after = after.astimezone(UTC)
    cron = " ".join(cron.split())
    if timezone == "UTC":
        naive = croniter(cron, after.replace(tzinfo=None)).get_next(datetime)
        return naive.replace(tzinfo=UTC)
    return _next_on_wall_clock(after, cron, ZoneInfo(timezone))


#: a DST change moves the wall clock by less than this (in practice 30 min to 2 h)
_SHIFT_MAX = timedelta(hours=6)


def _next_on_wall_clock(after: datetime, cron: str, zone: ZoneInfo) -> datetime:
    """The earliest instant > ``after`` of any wall-clock time the cron expression names.

    croniter walks naive wall-clock times (calendar arithmetic, no DST); each is mapped to
    its instants (:func:`_instants`). Instants are not monotonic in wall-clock order around
    a repeated hour, so the walk starts early enough (before the repeated hour when
    ``after`` lies in its first pass) and stops once no later wall time can map earlier
    than the best instant found.
    """
    local = after.astimezone(zone)
    offset = _offset(after, zone)
    later = _offset(after + _SHIFT_MAX, zone)
    start = local.replace(tzinfo=None) - max(offset - later, timedelta(0))
    by_clock = cron.split(" ")[1].startswith("*")
    walk = croniter(cron, start)
    best: datetime | None = None
    widest = max(offset, later)
    while True:
        naive = walk.get_next(datetime)
        for instant, instant_offset in _instants(naive, zone, by_clock):
            widest = max(widest, instant_offset)
            if instant > after and (best is None or instant < best):
                best = instant
        # a later wall time w maps to w - offset(w) >= w - widest > best: done
        if best is not None and naive - widest > best.replace(tzinfo=None):
            return best


def _offset(at: datetime, zone: ZoneInfo) -> timedelta:
    return at.astimezone(zone).utcoffset() or timedelta(0)


def _instants(naive: datetime, zone: ZoneInfo, by_clock: bool) -> list[tuple[datetime, timedelta]]:
    """The UTC instants (with their offsets) at which wall time ``naive`` is due."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    early, late = first.astimezone(UTC), second.astimezone(UTC)
    if early.astimezone(zone).replace(tzinfo=None) != naive:
        # skipped by a spring-forward gap: due when the gap ends
        return [(_gap_end(late, early, zone), second.utcoffset() or timedelta(0))]
    if early != late and by_clock:  # repeated hour, runs by elapsed time: both
        return [(early, first.utcoffset() or timedelta(0)),
                (late, second.utcoffset() or timedelta(0))]  # fmt: skip
    return [(early, first.utcoffset() or timedelta(0))]


def _gap_end(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The instant of the DST change between ``low`` and ``high`` (UTC; the offset at
    ``low`` differs from the one at ``high``), to the second."""
    before = _offset(low, zone)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _offset(middle, zone) == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0) if high.microsecond == 0 else high


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
