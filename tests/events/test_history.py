"""``/jobs/history``, ``/queue/history``, ``/event/history`` with core4's pager."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client

from core4api.ids import utcnow
from events.models import Event, format_id
from events.outbox import store
from tests.events.helpers import standard_user, token_of

pytestmark = pytest.mark.django_db

JOBS = "/core4/api/v1/jobs/history"
QUEUE = "/core4/api/v1/queue/history"
EVENTS = "/core4/api/v1/event/history"


@pytest.fixture
def users(make_user):
    return {
        "admin": token_of(make_user("boss", ["cop"])),
        "test": token_of(standard_user("test", "api://core4.api.v1.request.queue.history.*")),
        "plain": token_of(standard_user("plain")),
    }


def get(url, token, **params):
    params = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in params.items()}
    return Client().get(url, params, HTTP_AUTHORIZATION=f"Bearer {token}")


def queue_event(created: datetime, counts: dict, name: str = "enqueue_job") -> Event:
    event = store(name, "queue", {"_id": "5c8fd9d7ad707128553646d6", "queue": counts}, "mra")
    Event.objects.filter(pk=event.pk).update(created=created)
    return event


T0 = datetime(2019, 3, 18, 17, 44, 0, tzinfo=UTC)


@pytest.fixture
def seed_history(db):
    """The seed's 16 queue events: four runs of pending → running → running → empty."""
    for run in range(4):
        base = T0 + timedelta(seconds=15 * run)
        queue_event(base, {"pending": 1})
        queue_event(base + timedelta(seconds=1), {"running": 1}, "request_start_job")
        queue_event(base + timedelta(seconds=2), {"running": 1}, "start_job")
        queue_event(base + timedelta(seconds=5), {}, "complete_job")
    store("message", "message", "not a queue event", "x")


# --- /jobs/history --------------------------------------------------------------------------
def test_job_history_needs_its_permission(users):
    assert get(JOBS, users["plain"]).status_code == 403
    assert Client().get(JOBS).status_code == 401


def test_job_history_pages_newest_first_as_the_seed(users, seed_history):
    first = get(JOBS, users["test"]).json()
    assert first["code"] == 200
    assert (first["page"], first["per_page"], first["page_count"], first["count"]) == (0, 10, 2, 10)
    assert first["total_count"] == 16.0
    assert isinstance(first["total_count"], float)
    data = first["data"]
    assert data[0] == {"created": "2019-03-18T17:44:50", "total": 0}
    assert data[1] == {"created": "2019-03-18T17:44:47", "running": 1, "total": 1}
    assert data[3] == {"created": "2019-03-18T17:44:45", "pending": 1, "total": 1}
    created = [item["created"] for item in data]
    assert created == sorted(created, reverse=True)
    second = get(JOBS, users["test"], page=1).json()
    assert second["count"] == 6
    assert second["data"][-1] == {"created": "2019-03-18T17:44:00", "pending": 1, "total": 1}
    assert get(JOBS, users["test"], page=2).json()["data"] == []
    assert get(JOBS, users["test"], page=-1).json()["page"] == 1


def test_job_history_sort_and_filter(users, seed_history):
    oldest = get(JOBS, users["test"], sort=1, per_page=3).json()["data"]
    assert [i["created"][-2:] for i in oldest] == ["00", "01", "02"]
    since = get(JOBS, users["test"], filter={"created": {"$gte": "2019-03-18T17:44:45"}}).json()
    assert since["total_count"] == 4
    named = get(JOBS, users["test"], filter={"name": "complete_job"}).json()
    assert named["total_count"] == 4
    assert all(item["total"] == 0 for item in named["data"])
    assert get(JOBS, users["test"], sort=2).status_code == 400
    assert get(JOBS, users["test"], filter={"nope": 1}).status_code == 400
    assert get(JOBS, users["test"], per_page=0).status_code == 400


# --- /event/history -------------------------------------------------------------------------
def test_event_history_pages_messages_newest_first(users, seed_history):
    for n in range(12):
        store("message", "message", f"chat {n}", "plain")
    reply = get(EVENTS, users["plain"]).json()  # standard users may read it
    assert reply["total_count"] == 13
    assert reply["page_count"] == 2
    first = reply["data"][0]
    assert set(first) == {"_id", "author", "channel", "created", "name", "data"}
    assert first["data"] == "chat 11"
    ids = [item["_id"] for item in reply["data"]]
    assert ids == sorted(ids, reverse=True)
    queue = get(EVENTS, users["plain"], filter={"channel": "queue"}).json()
    assert queue["total_count"] == 16
    assert {item["channel"] for item in queue["data"]} == {"queue"}
    by_author = get(EVENTS, users["plain"], filter={"author": "x"}).json()
    assert [item["data"] for item in by_author["data"]] == ["not a queue event"]
    after = get(EVENTS, users["plain"], filter={"_id": {"$gt": ids[1]}}).json()
    assert [item["_id"] for item in after["data"]] == [ids[0]]
    assert get(EVENTS, users["plain"], filter={"_id": "zz"}).status_code == 400


def test_event_history_without_permission(make_user):
    outsider = token_of(make_user("outsider", ["api://core4.api.v1.request.queue.*"]))
    assert get(EVENTS, outsider).status_code == 403


# --- /queue/history -------------------------------------------------------------------------
def _totals(reply):
    return [item["total"] for item in reply["data"]]


def test_queue_history_groups_by_day_for_spans_of_years(users):
    queue_event(datetime(2017, 1, 5, 10, tzinfo=UTC), {"pending": 4})
    queue_event(datetime(2017, 1, 5, 11, tzinfo=UTC), {"pending": 2})
    queue_event(datetime(2018, 6, 1, 9, tzinfo=UTC), {"pending": 5, "running": 4})
    queue_event(datetime(2019, 6, 17, 9, tzinfo=UTC), {"running": 10})
    queue_event(datetime(2019, 6, 17, 12, tzinfo=UTC), {"running": 10, "failed": 0})
    reply = get(
        QUEUE, users["test"], startDate="2017-01-01T00:00:00", endDate="2019-06-18T00:00:00"
    ).json()
    assert _totals(reply) == [10, 9, 4]  # newest first
    assert reply["data"][0]["created"] == "2019-06-17T09:00:00"  # the first with the max total
    assert reply["data"][1] == {
        "created": "2018-06-01T09:00:00",
        "total": 9,
        "pending": 5,
        "running": 4,
    }
    oldest = get(QUEUE, users["test"], startDate="2017-01-01", endDate="2019-06-18", sort=1).json()
    assert _totals(oldest) == [4, 9, 10]
    page = get(
        QUEUE,
        users["test"],
        startDate="2017-01-01",
        endDate="2019-06-18",
        sort=1,
        perPage=1,
        page=1,
    ).json()
    assert (page["count"], page["page"], page["page_count"], page["total_count"]) == (1, 1, 3, 3)
    assert _totals(page) == [9]


@pytest.mark.parametrize(
    ("span", "step", "groups"),
    [
        (timedelta(days=40), timedelta(minutes=20), 2),  # months → per hour: 3 events, 2 hours
        (timedelta(days=2), timedelta(seconds=20), 2),  # days → per minute
        (timedelta(hours=2), timedelta(milliseconds=300), 2),  # hours → per second
    ],
)
def test_queue_history_granularity_follows_the_span(users, span, step, groups):
    start = datetime(2019, 1, 1, tzinfo=UTC)
    base = start + timedelta(hours=1, minutes=10, seconds=10)
    queue_event(base, {"pending": 1})
    queue_event(base + step, {"pending": 3})
    queue_event(base + 4 * step, {"pending": 2})
    reply = get(
        QUEUE,
        users["test"],
        startDate=start.isoformat(),
        endDate=(start + span).isoformat(),
        sort=1,
    ).json()
    assert reply["total_count"] == groups, reply
    assert _totals(reply)[0] == 3


def test_queue_history_default_period_and_other_channels(users):
    now = utcnow()
    queue_event(now - timedelta(days=30), {"pending": 9})
    queue_event(now - timedelta(days=2), {"pending": 2})
    queue_event(now - timedelta(hours=1), {"pending": 1})
    store("message", "message", "ignored", "x")
    reply = get(QUEUE, users["test"], sort=1).json()
    assert _totals(reply) == [2, 1]


def test_queue_history_start_after_end_is_400(users):
    reply = get(QUEUE, users["test"], startDate="2019-06-18", endDate="2019-01-01")
    assert reply.status_code == 400
    assert "Start date > End date" in reply.json()["error"]
    assert get(QUEUE, users["test"], startDate="yesterday").status_code == 400
    assert get(QUEUE, users["plain"]).status_code == 403


# --- the query plan at scale ----------------------------------------------------------------
def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE events_event")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("ANALYZE")
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(" ".join(str(col) for col in row) for row in cursor.fetchall())


def test_history_pages_use_the_channel_id_index(db):
    created = utcnow()
    Event.objects.bulk_create(
        Event(
            name="enqueue_job",
            channel="queue" if n % 4 else "message",
            author="x",
            created=created,
            data={"_id": format_id(n), "queue": {"pending": n}},
            total=n,
        )
        for n in range(20_000)
    )
    page = Event.objects.filter(channel="queue").order_by("-id")[20:30]
    sql, params = page.query.sql_with_params()
    plan = _plan(sql, params)
    print(plan)  # shown with -s: the plan the benchmark also prints at a million events
    # read in index order (the (channel, id) index or the primary key), never sorted or scanned
    if connection.vendor == "postgresql":
        assert "Index" in plan and "Seq Scan" not in plan and "Sort" not in plan, plan
    else:
        assert "USING" in plan and "TEMP B-TREE" not in plan, plan
