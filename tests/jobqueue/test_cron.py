"""When a schedule is due (``jobqueue.cron``): pure functions, fixed datetimes, across DST
changes in both directions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobqueue.cron import next_after, validate_cron, validate_interval, validate_timezone

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def firings(cron: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    """Every due time in (start, end], as the scheduler would step through them."""
    out, at = [], start
    while True:
        at = next_after(at, cron=cron, timezone=zone)
        if at > end:
            return out
        out.append(at)


def wall(instants: list[datetime], zone: str) -> list[str]:
    return [f"{t.astimezone(ZoneInfo(zone)):%m-%d %H:%M %Z}" for t in instants]


def test_utc_minute_and_strictly_after():
    assert next_after(utc(2026, 6, 1, 12, 0, 30), cron="* * * * *") == utc(2026, 6, 1, 12, 1)
    # exactly on a due time: the next one
    assert next_after(utc(2026, 6, 1, 12, 1), cron="* * * * *") == utc(2026, 6, 1, 12, 2)
    assert next_after(utc(2026, 6, 1, 12, 1), cron="0  3 * * *") == utc(2026, 6, 2, 3)


def test_interval_is_elapsed_seconds():
    assert next_after(utc(2026, 6, 1), interval=90) == utc(2026, 6, 1, 0, 1, 30)


def test_zone_other_than_utc_on_an_ordinary_day():
    # 02:30 in Berlin in summer is 00:30 UTC
    assert next_after(utc(2026, 6, 1), cron="30 2 * * *", timezone=BERLIN) == utc(2026, 6, 1, 0, 30)


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        # spring forward: 02:30 does not exist; due once, at the first valid instant (03:00)
        (BERLIN, utc(2026, 3, 29), ["03-28 02:30 CET", "03-29 03:00 CEST", "03-30 02:30 CEST"]),
        (NEW_YORK, utc(2026, 3, 8), ["03-07 02:30 EST", "03-08 03:00 EDT", "03-09 02:30 EDT"]),
    ],
)
def test_fixed_time_in_the_skipped_hour_fires_once_when_the_gap_ends(zone, day, expected):
    got = firings(
        "30 2 * * *", zone, day - timedelta(days=1, hours=12), day + timedelta(days=1, hours=12)
    )
    assert wall(got, zone) == expected


@pytest.mark.parametrize(
    ("zone", "day", "cron", "expected"),
    [
        # fall back: 02:30 exists twice; a fixed-time job fires once, at the first one
        (BERLIN, utc(2026, 10, 25), "30 2 * * *",
         ["10-24 02:30 CEST", "10-25 02:30 CEST", "10-26 02:30 CET"]),
        (NEW_YORK, utc(2026, 11, 1), "30 1 * * *",
         ["10-31 01:30 EDT", "11-01 01:30 EDT", "11-02 01:30 EST"]),
    ],
)  # fmt: skip
def test_fixed_time_in_the_repeated_hour_fires_once(zone, day, cron, expected):
    got = firings(cron, zone, day - timedelta(days=1, hours=12), day + timedelta(days=1, hours=12))
    assert wall(got, zone) == expected


def test_every_15_minutes_keeps_real_time_through_the_repeated_hour():
    got = firings("*/15 * * * *", BERLIN, utc(2026, 10, 24, 23, 40), utc(2026, 10, 25, 2, 10))
    assert wall(got, BERLIN) == [
        "10-25 01:45 CEST",
        "10-25 02:00 CEST", "10-25 02:15 CEST", "10-25 02:30 CEST", "10-25 02:45 CEST",
        "10-25 02:00 CET", "10-25 02:15 CET", "10-25 02:30 CET", "10-25 02:45 CET",
        "10-25 03:00 CET",
    ]  # fmt: skip
    # every 15 real minutes, none twice, none missed
    assert all(b - a == timedelta(minutes=15) for a, b in zip(got, got[1:], strict=False))


def test_every_15_minutes_through_the_skipped_hour_fires_once_at_its_end():
    got = firings("*/15 * * * *", BERLIN, utc(2026, 3, 29, 0, 20), utc(2026, 3, 29, 1, 20))
    assert wall(got, BERLIN) == ["03-29 01:30 CET", "03-29 01:45 CET", "03-29 03:00 CEST",
                                 "03-29 03:15 CEST"]  # fmt: skip


def test_from_inside_the_repeated_hour():
    # after 02:50 CEST (first pass) the next */15 is 02:00 CET, an hour of wall time back
    assert next_after(utc(2026, 10, 25, 0, 50), cron="*/15 * * * *", timezone=BERLIN) == utc(
        2026, 10, 25, 1, 0
    )
    # a fixed-time 02:30 job asked during the second pass: tomorrow, not again today
    assert next_after(utc(2026, 10, 25, 1, 10), cron="30 2 * * *", timezone=BERLIN) == utc(
        2026, 10, 26, 1, 30
    )


def test_validation_messages():
    assert validate_cron(" */5  *  * * * ") == "*/5 * * * *"
    for bad in ("", "every minute", "* * * *", "* * * * * *", "61 * * * *", 5):
        with pytest.raises(ValueError, match="cron|five fields"):
            validate_cron(bad)
    assert validate_timezone(BERLIN) == BERLIN
    with pytest.raises(ValueError, match="unknown timezone"):
        validate_timezone("Mars/Olympus")
    with pytest.raises(ValueError, match="between"):
        validate_interval(0)
