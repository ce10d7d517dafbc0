"""Store events in the transaction that caused them, announce them once it committed.

The outbox rule: the ``Event`` row is inserted in the
same database transaction as the change it describes, so it exists if and only if the change
committed; ``transaction.on_commit`` then wakes the servers' event hubs (:mod:`events.hub`),
which read new events from the database in id order and hand them to their sockets.

Commit order = id order. A sequence hands out ids when rows are inserted, not when they
commit: on PostgreSQL transaction A may take id 10, B id 11, and B commit first — a client
that saw 11 and resumes with ``since=11`` would never see 10. So on PostgreSQL every
event-writing transaction takes one transaction-scoped advisory lock right before its
insert; it is held until commit or rollback, so no transaction can allocate a later id before
every earlier one finished. SQLite needs nothing: its writers are serialised from ``BEGIN``
(``transaction_mode = IMMEDIATE``). The price is that event-writing transactions serialise
from their event insert to their commit — the tail of a transition, a few hundred µs.

Publishing never fails nor slows the change: ``on_commit`` only hands the event's id to
this process's publisher thread (:mod:`events.publisher`: one event loop and one Redis
connection pool per process, wake-ups coalesced to the highest id). If the channel layer is
unreachable (no server running, Redis down) a warning is logged; the event is stored and
clients catch up by ``since`` (and the hubs' poll).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.layers import get_channel_layer
from django.db import connections, transaction

from core4api.ids import isoformat, utcnow
from events import publisher
from events.models import QUEUE, Event
from jobqueue.transitions import os_user

log = logging.getLogger(__name__)

#: The channel-layer group every server process's hub is a member of.
HUB_GROUP = "core4.events"
#: ``pg_advisory_xact_lock`` key serialising event inserts with commits (any fixed 64-bit int).
COMMIT_ORDER_LOCK = 0x636F726534657674  # "core4evt"
PUBLISH_TIMEOUT = 5.0


#: PostgreSQL: take the commit-order lock and insert, in one round trip. The lock's CTE is
#: read before the row is formed, so the id (the column default, ``nextval``) is drawn
#: after the lock is held.
_INSERT_SQL = """
WITH ordered AS (SELECT pg_advisory_xact_lock(%s))
INSERT INTO {table} ({columns}) SELECT {values} FROM ordered RETURNING {pk}
"""
_COLUMNS = ("created", "name", "author", "channel", "data", "total")


def _insert_ordered(event: Event, using: str) -> None:
    """Insert ``event`` under the commit-order lock (PostgreSQL); sets its ``pk``."""
    connection = connections[using]
    fields = [Event._meta.get_field(name) for name in _COLUMNS]
    quote = connection.ops.quote_name
    sql = _INSERT_SQL.format(
        table=quote(Event._meta.db_table),
        columns=", ".join(quote(field.column) for field in fields),
        values=", ".join(["%s"] * len(fields)),
        pk=quote(Event._meta.pk.column),
    )
    params = [COMMIT_ORDER_LOCK] + [
        field.get_db_prep_save(getattr(event, field.attname), connection) for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        event.pk = cursor.fetchone()[0]
    event._state.adding = False
    event._state.db = using


#: PostgreSQL: the events of an enqueue written in one statement (``jobqueue.signals.
#: SqlOutbox``): the commit-order lock, then one ``enqueue_job`` event per row of the CTE
#: ``transition`` in its order, with the data and total :func:`on_job_transition` stores.
#: The lock is read from ``transition``, so it is taken after the jobs were inserted and
#: the counter row locked — the order every transition takes its locks in (a statement's
#: CTEs run in whatever order the plan reads them: taken first, it deadlocked with a worker
#: holding the counter row and waiting for the lock).
_ENQUEUE_CTES = """ordered AS (
    SELECT pg_advisory_xact_lock(%(commit_order_lock)s) AS locked
    FROM (SELECT 1 FROM transition LIMIT 1) AS after_the_jobs_and_counters
),
outbox AS (
    INSERT INTO {table} ({columns})
    SELECT %(created)s, %(event)s, %(author)s, %(queue_channel)s,
        jsonb_build_object('_id', t.job_id, 'queue', t.counts),
        (SELECT sum(value::bigint) FROM jsonb_each_text(t.counts))
    FROM transition AS t, ordered ORDER BY t.ord
    RETURNING {pk} AS id
)"""


def enqueue_ctes(connection) -> tuple[str, dict[str, Any]]:
    quote = connection.ops.quote_name
    sql = _ENQUEUE_CTES.format(
        table=quote(Event._meta.db_table),
        columns=", ".join(quote(Event._meta.get_field(name).column) for name in _COLUMNS),
        pk=quote(Event._meta.pk.column),
    )
    return sql, {"commit_order_lock": COMMIT_ORDER_LOCK, "queue_channel": QUEUE}


def queue_total(data: Any) -> int | None:
    counts = data.get("queue") if isinstance(data, dict) else None
    if not isinstance(counts, dict):
        return None
    return sum(v for v in counts.values() if isinstance(v, int) and not isinstance(v, bool))


def store(
    name: str, channel: str, data: Any, author: str | None = None, using: str = "default"
) -> Event:
    """Insert an event (in the caller's transaction, or its own) and announce it on commit."""
    total = queue_total(data) if channel == QUEUE else None
    event = Event(name=name, channel=channel, data=data, author=author or os_user(), total=total)
    # inside the transition's transaction no savepoint: a failed insert fails the transition
    inside = transaction.get_connection(using).in_atomic_block
    with transaction.atomic(using=using, savepoint=not inside):
        if connections[using].vendor == "postgresql":
            _insert_ordered(event, using)
        else:  # SQLite: writers are serialised from BEGIN IMMEDIATE
            event.save(using=using, force_insert=True)
        transaction.on_commit(lambda: announce(event.pk), using=using)
    return event


# --- publishing -----------------------------------------------------------------------------
async def _group_send(message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    await asyncio.wait_for(layer.group_send(HUB_GROUP, message), PUBLISH_TIMEOUT)


def _publish_failed(message: dict, exc: BaseException) -> None:
    log.warning(
        "events: channel layer unreachable, %s not published (%s: %s); "
        "stored events reach clients on their next event or resume",
        message.get("type"),
        type(exc).__name__,
        exc,
    )


def _publisher() -> publisher.Publisher:
    return publisher.get(_group_send, _publish_failed)


def flush(timeout: float = publisher.SEND_TIMEOUT) -> bool:
    """Wait until this process's announcements went out (tests, short-lived commands)."""
    return publisher.flush(timeout)


async def apublish(message: dict) -> bool:
    """Send ``message`` now, from async code; ``False`` (and a warning) if that failed."""
    try:
        await _group_send(message)
    except Exception as exc:  # noqa: BLE001
        log.warning("events: channel layer unreachable (%s: %s)", type(exc).__name__, exc)
        return False
    return True


def wakeup_message(event_id: int) -> dict:
    return {"type": "hub.wakeup", "id": event_id}


def announce(event_id: int) -> None:
    """Tell the hubs (soon, from the publisher thread) that events up to ``event_id`` committed."""
    _publisher().wakeup(wakeup_message(event_id))


def summary_message(rows: list[dict], author: str | None) -> dict:
    return {
        "type": "hub.summary",
        "rows": rows,
        "author": author or os_user(),
        "created": isoformat(utcnow()),
    }


# --- signal receivers -----------------------------------------------------------------------
def on_job_transition(sender, *, event: str, job, counts: dict, author: str | None = None, **kw):
    """``jobqueue.signals.job_transition``: the queue event, stored in the transition."""
    data = {"_id": str(job.pk), "queue": {k: v for k, v in counts.items() if v}}
    store(event, QUEUE, data, author)


def on_queue_summary(sender, *, rows: list[dict], author: str | None = None, **kw):
    """``jobqueue.signals.queue_summary``: broadcast raw; each socket masks its own copy."""
    _publisher().summary(summary_message(list(rows), author))
