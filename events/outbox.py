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
from functools import cache
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections, transaction

from core4api.ids import isoformat, utcnow
from events import publisher
from events.models import QUEUE, Event
from jobqueue.signals import StatementPart
from jobqueue.states import ENQUEUE_JOB
from jobqueue.transitions import os_user

log = logging.getLogger(__name__)

#: The channel-layer group every server process's hub is a member of.
HUB_GROUP = "core4.events"
#: ``pg_advisory_xact_lock`` key serialising event inserts with commits (any fixed 64-bit int).
COMMIT_ORDER_LOCK = 0x636F726534657674  # "core4evt"
PUBLISH_TIMEOUT = 5.0
#: seconds from one wake-up a process sends to its next (``CORE4_EVENTS_WAKEUP_INTERVAL``)
WAKEUP_INTERVAL = 0.01
#: rows per INSERT statement of :func:`store_many` (PostgreSQL; 6 parameters each)
INSERT_ROWS = 1000


#: PostgreSQL: take the commit-order lock and insert the rows, in one round trip. The lock's
#: CTE is read before a row is formed, so the ids (the column default, ``nextval``) are
#: drawn after the lock is held, in the rows' order.
_INSERT_SQL = """
WITH ordered AS (SELECT pg_advisory_xact_lock(%s))
INSERT INTO {table} ({columns})
SELECT {values} FROM ordered, (VALUES {rows}) AS v({names}) ORDER BY v.position
RETURNING {pk}
"""
_COLUMNS = ("created", "name", "author", "channel", "data", "total")


def _ordered_rows(template: str, events: list[Event], connection) -> tuple[str, list[Any]]:
    """``template`` (``_INSERT_SQL``'s placeholders) for ``events`` and its parameters after
    the lock's: ids are drawn in the order of the VALUES rows (ORDER BY their position)."""
    fields = [Event._meta.get_field(name) for name in _COLUMNS]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = template.format(
        table=quote(Event._meta.db_table),
        columns=", ".join(quote(field.column) for field in fields),
        rows=", ".join(f"({index}, {row[1:]}" for index in range(len(events))),
        names=", ".join(["position", *(f"c{i}" for i in range(len(fields)))]),
        values=", ".join(f"v.c{i}::{field.db_type(connection)}" for i, field in enumerate(fields)),
        pk=quote(Event._meta.pk.column),
        lock=COMMIT_ORDER_LOCK,
    )
    params: list[Any] = []
    for event in events:
        params += [field.get_db_prep_save(getattr(event, field.attname), connection)
                   for field in fields]  # fmt: skip
    return sql, params


def _insert_ordered(events: list[Event], using: str) -> None:
    """Insert ``events`` under the commit-order lock (PostgreSQL), in one statement, their
    ids in list order; sets their ``pk``."""
    connection = connections[using]
    sql, rows = _ordered_rows(_INSERT_SQL, events, connection)
    params: list[Any] = [COMMIT_ORDER_LOCK, *rows]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = sorted(row[0] for row in cursor.fetchall())
    for event, pk in zip(events, ids, strict=True):
        event.pk = pk
        event._state.adding = False
        event._state.db = using


def queue_total(data: Any) -> int | None:
    counts = data.get("queue") if isinstance(data, dict) else None
    if not isinstance(counts, dict):
        return None
    return sum(v for v in counts.values() if isinstance(v, int) and not isinstance(v, bool))


def _new_event(name: str, channel: str, data: Any, author: str | None) -> Event:
    """An unsaved event; a queue event's ``total`` is the sum of its counts."""
    total = queue_total(data) if channel == QUEUE else None
    return Event(name=name, channel=channel, data=data, author=author or os_user(), total=total)


def store(
    name: str, channel: str, data: Any, author: str | None = None, using: str = "default"
) -> Event:
    """Insert an event (in the caller's transaction, or its own) and announce it on commit."""
    event = _new_event(name, channel, data, author)
    # inside the transition's transaction no savepoint: a failed insert fails the transition
    inside = transaction.get_connection(using).in_atomic_block
    with transaction.atomic(using=using, savepoint=not inside):
        if connections[using].vendor == "postgresql":
            _insert_ordered([event], using)
        else:  # SQLite: writers are serialised from BEGIN IMMEDIATE
            event.save(using=using, force_insert=True)
        transaction.on_commit(lambda: announce(event.pk), using=using)
    return event


def store_many(
    items: list[tuple[str, str, Any]], author: str | None = None, using: str = "default"
) -> list[Event]:
    """Insert events ``(name, channel, data)`` in one statement, in the caller's transaction
    (or its own), and announce them once on commit."""
    if not items:
        return []
    author = author or os_user()
    events = [_new_event(name, channel, data, author) for name, channel, data in items]
    inside = transaction.get_connection(using).in_atomic_block
    with transaction.atomic(using=using, savepoint=not inside):
        if connections[using].vendor == "postgresql":  # ids drawn after the lock is held
            for start in range(0, len(events), INSERT_ROWS):
                _insert_ordered(events[start : start + INSERT_ROWS], using)
        else:
            Event.objects.using(using).bulk_create(events)
        last = max(event.pk for event in events)
        transaction.on_commit(lambda: announce(last), using=using)
    return events


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
    interval = getattr(settings, "CORE4_EVENTS_WAKEUP_INTERVAL", WAKEUP_INTERVAL)
    return publisher.get(_group_send, _publish_failed, interval)


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
#: ``dispatch_uid`` of :func:`on_job_transition` (a statement part replaces it: ``replaces``)
TRANSITION_UID = "events.job_transition"


def on_job_transition(sender, *, event: str, job, counts: dict, author: str | None = None, **kw):
    """``jobqueue.signals.job_transition``: the queue event, stored in the transition (not
    again for a ``batched`` one: ``on_job_transitions`` stored it)."""
    if not kw.get("batched"):
        store(event, QUEUE, transition_data(event, job, counts), author)


#: PostgreSQL: the event row's part of a transition's one statement (``counts``: its CTE of
#: the counts after the change). The commit-order lock is taken after the counts are formed
#: (so after the job's and the counters' row locks), the id drawn after the lock is held.
_STATEMENT_SQL = """
event_ordered AS (SELECT pg_advisory_xact_lock({lock}) AS locked FROM counts),
event_row AS (
    INSERT INTO {table} ({columns})
    SELECT %s, %s, %s, '{channel}',
           %s::jsonb || jsonb_build_object('queue', counts.queue), counts.total
    FROM event_ordered, counts
    RETURNING {pk}
)"""


def on_job_transition_statement(sender, *, event: str, job, author: str | None = None, **kw):
    """``jobqueue.signals.job_transition_statement``: the queue event's row, inserted by the
    transition's own statement (PostgreSQL), announced on commit."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return None
    data = Event._meta.get_field("data").get_db_prep_save(
        transition_data(event, job, {}), connection
    )
    params = [utcnow(), event, author or os_user(), data]

    def stored(event_id: int) -> None:
        transaction.on_commit(lambda: announce(event_id))

    return StatementPart(
        sql=_statement_sql(),
        params=params,
        result=("event_row", "id"),
        done=stored,
        replaces=TRANSITION_UID,
    )


@cache
def _statement_sql() -> str:
    quote = connections["default"].ops.quote_name
    return _STATEMENT_SQL.format(
        table=quote(Event._meta.db_table),
        columns=", ".join(quote(Event._meta.get_field(name).column) for name in _COLUMNS),
        pk=quote(Event._meta.pk.column),
        lock=COMMIT_ORDER_LOCK,
        channel=QUEUE,
    )


#: PostgreSQL: the events of a worker's turn as part of its last statement (after its job
#: rows and counter rows were locked, in the turn's first statement): the commit-order lock,
#: then the rows, their ids drawn in order after it is held, as ``_INSERT_SQL`` does.
_MANY_STATEMENT_SQL = """
event_ordered AS (SELECT pg_advisory_xact_lock({lock})),
event_rows AS (
    INSERT INTO {table} ({columns})
    SELECT {values} FROM event_ordered, (VALUES {rows}) AS v({names}) ORDER BY v.position
    RETURNING {pk}
),
event_last AS (SELECT max({pk}) AS id FROM event_rows)"""


def on_job_transitions_statement(sender, *, items: list, **kw):
    """``jobqueue.signals.job_transitions_statement``: the queue events of a worker's turn,
    inserted by the turn's last statement (PostgreSQL), announced once on commit."""
    connection = connections["default"]
    if connection.vendor != "postgresql" or not items or len(items) > INSERT_ROWS:
        return None
    events = [_new_event(event, QUEUE, transition_data(event, job, counts), author)
              for event, job, counts, author in items]  # fmt: skip
    sql, params = _ordered_rows(_MANY_STATEMENT_SQL, events, connection)

    def stored(last: int) -> None:
        transaction.on_commit(lambda: announce(last))

    return StatementPart(
        sql=sql, params=params, result=("event_last", "id"), done=stored, replaces=TRANSITIONS_UID
    )


#: ``dispatch_uid`` of :func:`on_job_transitions` (a statement part replaces it)
TRANSITIONS_UID = "events.job_transitions"


def on_job_transitions(sender, *, items: list, author: str | None = None, **kw):
    """``jobqueue.signals.job_transitions``: the events of many transitions of one
    transaction, stored with one INSERT (ids in the items' order, under the commit-order
    lock), announced once at commit."""
    rows = [(event, QUEUE, transition_data(event, job, counts)) for event, job, counts in items]
    store_many(rows, author)


def transition_data(event: str, job, counts: dict) -> dict:
    data = {"_id": str(job.pk), "queue": {k: v for k, v in counts.items() if v}}
    if event == ENQUEUE_JOB and getattr(job, "schedule_id", None):
        data["schedule_id"] = job.schedule_id  # enqueued by a schedule (author: scheduler)
    return data


def on_queue_summary(sender, *, rows: list[dict], author: str | None = None, **kw):
    """``jobqueue.signals.queue_summary``: broadcast raw; each socket masks its own copy."""
    _publisher().summary(summary_message(list(rows), author))
