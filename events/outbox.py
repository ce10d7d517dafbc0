"""Store events in the transaction that caused them, announce them once it committed.

The outbox rule (DESIGN "How a state change travels"): the ``Event`` row is inserted in the
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

Publishing never fails the change: if the channel layer is unreachable (no server running,
Redis down) a warning is logged; the event is stored and clients catch up by ``since``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connections, transaction

from core4site.ids import isoformat, utcnow
from events.models import QUEUE, Event, os_user

log = logging.getLogger(__name__)

#: The channel-layer group every server process's hub is a member of.
HUB_GROUP = "core4.events"
#: ``pg_advisory_xact_lock`` key serialising event inserts with commits (any fixed 64-bit int).
COMMIT_ORDER_LOCK = 0x636F726534657674  # "core4evt"
PUBLISH_TIMEOUT = 5.0


def _lock_commit_order(using: str) -> None:
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [COMMIT_ORDER_LOCK])


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
    with transaction.atomic(using=using):
        _lock_commit_order(using)
        event = Event.objects.using(using).create(
            name=name, channel=channel, data=data, author=author or os_user(), total=total
        )
        transaction.on_commit(lambda: announce(event.pk), using=using)
    return event


# --- publishing -----------------------------------------------------------------------------
async def _group_send(message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    await asyncio.wait_for(layer.group_send(HUB_GROUP, message), PUBLISH_TIMEOUT)


def _publish(message: dict) -> bool:
    """Send ``message`` to every server's hub; ``False`` (and a warning) if that failed."""
    try:
        async_to_sync(_group_send)(message)
    except Exception as exc:  # noqa: BLE001 - publishing must never fail the change
        log.warning(
            "events: channel layer unreachable, %s not published (%s: %s); "
            "stored events reach clients on their next event or resume",
            message.get("type"),
            type(exc).__name__,
            exc,
        )
        return False
    return True


async def apublish(message: dict) -> bool:
    """:func:`_publish` for async callers."""
    try:
        await _group_send(message)
    except Exception as exc:  # noqa: BLE001
        log.warning("events: channel layer unreachable (%s: %s)", type(exc).__name__, exc)
        return False
    return True


def wakeup_message(event_id: int) -> dict:
    return {"type": "hub.wakeup", "id": event_id}


def announce(event_id: int) -> bool:
    """Tell the hubs that events up to ``event_id`` committed."""
    return _publish(wakeup_message(event_id))


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
    _publish(summary_message(list(rows), author))
