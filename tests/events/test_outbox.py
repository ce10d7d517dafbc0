"""The outbox: events stored in the transition's transaction, ids in commit order, publishing
that never fails a transition."""

from __future__ import annotations

import logging

import pytest
from django.db import connection, transaction

from events.models import Event, format_id, parse_id
from events.outbox import flush, store, store_many
from jobqueue.transitions import os_user
from tests.events.helpers import commit_order_race, summary, transition

pytestmark = pytest.mark.django_db(transaction=True)


def test_transition_stores_the_queue_event():
    job_id = transition("enqueue_job", {"pending": 1, "failed": 0}, author="mra")
    event = Event.objects.get()
    assert (event.name, event.channel, event.author) == ("enqueue_job", "queue", "mra")
    assert event.data == {"_id": job_id, "queue": {"pending": 1}}
    assert event.total == 1
    doc = event.to_document()
    assert doc["_id"] == format_id(event.pk) and len(doc["_id"]) == 24
    assert set(doc) == {"_id", "created", "name", "author", "channel", "data"}


def test_author_defaults_to_the_os_user():
    event = store("message", "system", "hello")
    assert event.author == os_user()


def test_no_event_without_the_change():
    with pytest.raises(RuntimeError), transaction.atomic():
        transition("enqueue_job", {"pending": 1})
        raise RuntimeError("the transition failed after signalling")
    assert not Event.objects.exists()


def _shared_memory_sqlite() -> bool:
    return connection.vendor == "sqlite" and connection.is_in_memory_db()


@pytest.mark.parametrize("many", [False, True], ids=["one", "several"])
def test_ids_follow_commit_order(many):
    """When an event commits, every event with a lower id has committed already — even one
    whose transaction took its id first and is slow to commit (``several``: its events were
    stored with one statement, ``store_many``)."""
    if _shared_memory_sqlite():
        pytest.skip(
            "the in-memory SQLite test database has table locks (SQLITE_LOCKED) instead of the "
            "file database's busy waiting; the product's SQLite file serialises writers from BEGIN"
        )

    def slow() -> list[int]:
        if many:
            rows = [("enqueue_job", "queue", {"queue": {"pending": n}}) for n in (1, 2, 3)]
            pks = [event.pk for event in store_many(rows)]
            assert pks == sorted(pks) and len(set(pks)) == 3
            return pks
        return [store("enqueue_job", "queue", {"queue": {"pending": 1}}).pk]

    seen = commit_order_race(
        slow, lambda: store("enqueue_job", "queue", {"queue": {"pending": 2}}).pk
    )
    assert seen["fast"] > max(seen["slow"])
    assert seen["lower_visible"] == seen["slow"], "a later id committed before an earlier one"


def test_unreachable_layer_never_fails_a_transition(settings, caplog):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1", "socket_timeout": None}]},
        }
    }
    assert flush(10)  # nothing of earlier tests is still on its way to the real layer
    with caplog.at_level(logging.WARNING, logger="events.outbox"):
        transition("enqueue_job", {"pending": 1})
        summary([{"name": "x", "state": "pending", "n": 1}])
        # the transition returned at once; the publisher thread reports the failure
        assert flush(10)
    assert Event.objects.filter(name="enqueue_job").count() == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "channel layer unreachable" in warnings[0].getMessage()


@pytest.mark.parametrize("value", ["", "x", "-1", "1" * 25, -3, True, None, 1.5, ["1"]])
def test_parse_id_rejects_garbage(value):
    with pytest.raises((ValueError, TypeError)):
        parse_id(value)


def test_parse_id_round_trip():
    assert parse_id(format_id(123456789)) == 123456789
    assert parse_id(42) == 42


def test_store_many_keeps_the_order_across_statements(monkeypatch):
    monkeypatch.setattr("events.outbox.INSERT_ROWS", 7)
    rows = [("enqueue_job", "queue", {"queue": {"pending": n}}) for n in range(1, 21)]
    events = store_many(rows, author="mra")
    assert [e.pk for e in events] == sorted(e.pk for e in events)
    stored = list(Event.objects.order_by("id").values_list("id", "data", "author", "total"))
    assert stored == [
        (e.pk, {"queue": {"pending": n}}, "mra", n)
        for e, n in zip(events, range(1, 21), strict=True)
    ]
