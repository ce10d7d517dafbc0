"""One event subscription per server process, fanned out to its local sockets.

Fan-out through the channel layer per socket costs ~10× a direct send (measured),
so sockets are not channel-layer members at all. Each server process runs one ``Hub`` per
event loop, itself one member of the layer group ``core4.events``:

* a wake-up (``hub.wakeup``, published on commit by :mod:`events.outbox`) makes the hub read
  the events after the last one it read from the database, in id order, encode and frame
  each once and buffer them. Reading from the database rather than trusting the message
  keeps the live stream gap-free and in commit order even when wake-ups from several
  processes cross or one is lost (a slow poll is the fallback);
* a dispatch loop hands the buffer out: one pass over the sockets writes to each, in one
  write, every buffered event after its cursor that it is interested in (the bytes joined
  once per start position, shared by all sockets at that position), yielding to the event
  loop every ``CHUNK`` sockets; events read meanwhile reach the rest of the pass at once and
  the sockets already served in the next pass. Events that arrive while a pass runs are
  thereby batched: a busy hub writes fewer, larger frames runs, not one per event;
* a summary (``hub.summary``) is masked once per distinct job-permission set and sent to a
  socket only when its masked data changed;
* an access change (``access.changed`` from :mod:`accounts.revocation`, group
  ``core4.access``) makes it reload the named users and hand each of their sockets the
  result (``reauthorize``: closed, or re-masked at once); every ``CORE4_ACCESS_RECHECK``
  seconds it does so for all its sockets' users, the backstop.

The hub starts with its first socket and stops with its last one.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import time
import weakref
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Max

from accounts.revocation import ACCESS_CHANGED, ACCESS_GROUP, load_users
from events import metrics
from events.models import QUEUE, Event
from events.outbox import HUB_GROUP
from events.summary import mask
from events.wire import Writer, text_frame

log = logging.getLogger(__name__)

BATCH = 500
#: sockets served between two yields to the event loop in a dispatch pass
CHUNK = 100


class Member(Protocol):
    """What the hub needs of a socket (``events.consumers.EventConsumer``)."""

    interests: set[str]
    replaying: bool
    cursor: int
    last_summary: str
    access: Any
    access_key: Hashable
    #: the socket's user (its rights are re-checked on access changes); None: not checked
    user_id: str | None

    async def send_frame(self, frame: str) -> None: ...

    async def reauthorize(self, user: Any) -> None:
        """The user's current record (``None``: deleted), after its rights may have changed."""

    #: optional: write pre-framed messages (:mod:`events.wire`); False: use ``send_frame``
    write_frame: Writer | None


def encode(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


# --- database work (in the hub's own thread, keeping its connection) ----------------------------
def _max_id() -> int:
    return Event.objects.aggregate(m=Max("id"))["m"] or 0


def fetch_after(after: int, limit: int, upto: int | None = None, channels=None) -> list[tuple]:
    """``(id, channel, frame)`` of the events after ``after`` (up to ``upto``), in id order."""
    return [row[:3] for row in fetch_timed(after, limit, upto, channels)]


def fetch_timed(after: int, limit: int, upto: int | None = None, channels=None) -> list[tuple]:
    """``(id, channel, frame, created)`` of the events after ``after``: :func:`fetch_after`
    with each event's creation time (POSIX seconds), for the delivery latency."""
    queryset = Event.objects.filter(id__gt=after)
    if upto is not None:
        queryset = queryset.filter(id__lte=upto)
    if channels is not None:
        queryset = queryset.filter(channel__in=list(channels))
    return [
        (event.pk, event.channel, encode(event.to_document()), event.created.timestamp())
        for event in queryset.order_by("id")[:limit]
    ]


def _own_layer():
    """A channel-layer instance of the hub's own (receive state and connections per hub).

    channels-redis allows one event loop to ``receive`` per layer instance; a hub that did
    not stop cleanly on a finished loop must not block the next one (tests run one loop per
    test; daphne one per process).
    """
    try:
        return channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    except KeyError:  # no CHANNEL_LAYERS configured: poll only
        return None


def _close_connection() -> None:
    connection.close()  # resolved in the hub's thread: its own connection


def _guarded(func: Callable, *args):
    """Run ``func``; on a broken connection reconnect once (the hub's connection is long-lived)."""
    try:
        return func(*args)
    except (OperationalError, InterfaceError):
        connection.close()
        return func(*args)


class Hub:
    def __init__(self) -> None:
        self.members: set[Member] = set()
        self.last_id = 0
        self.channel: str | None = None
        self.stopping = False
        self.layer = _own_layer()
        self.poll_interval = float(settings.CORE4_EVENT_POLL_INTERVAL)
        self.recheck_interval = max(0.1, float(settings.CORE4_ACCESS_RECHECK))
        self.refresh_interval = max(
            1.0, min(3600.0, float(self.layer.group_expiry if self.layer else 86400) / 4)
        )
        self._wake = asyncio.Event()
        #: fetched events not yet handed to every socket: (id, channel, frame, wire, size)
        self._events: list[tuple[int, str, str, bytes, int]] = []
        self._created: dict[int, float] = {}  # event id → created (POSIX s), until first written
        self._ids: list[int] = []
        #: first buffer index → (channels, frames joined, largest payload) from there on
        self._joined: dict[int, tuple[set[str], bytes, int]] = {}
        self._ready = asyncio.Event()
        self._summary_rows: list = []
        self._summary_views: dict[Hashable, str] = {}
        self._summary_head: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="events-hub")
        self.started: asyncio.Task = asyncio.get_running_loop().create_task(self._start())

    # --- lifecycle --------------------------------------------------------------------------
    async def db(self, func: Callable, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(_guarded, func, *args))

    async def _join_group(self) -> bool:
        if self.layer is None:
            return False
        try:
            await self.layer.group_add(HUB_GROUP, self.channel)
            await self.layer.group_add(ACCESS_GROUP, self.channel)
        except Exception as exc:  # noqa: BLE001 - retried by the receive loop
            log.warning("events hub: cannot join the channel layer (%s); retrying", exc)
            return False
        return True

    async def _start(self) -> None:
        if self.layer is not None:
            self.channel = await self.layer.new_channel("hub")
            await self._join_group()
        self.last_id = await self.db(_max_id)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._fetch_loop()),
            loop.create_task(self._dispatch_loop()),
            loop.create_task(self._recheck_loop()),
        ]
        if self.layer is not None:
            self._tasks += [
                loop.create_task(self._receive_loop()),
                loop.create_task(self._refresh()),
            ]

    async def stop(self) -> None:
        self.stopping = True
        if not self.started.done():
            self.started.cancel()
        await asyncio.gather(self.started, return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.layer is not None and self.channel:
            for group in (HUB_GROUP, ACCESS_GROUP):
                with contextlib.suppress(Exception):  # the membership expires anyway
                    await asyncio.wait_for(self.layer.group_discard(group, self.channel), 2)
        if self.layer is not None and hasattr(self.layer, "close_pools"):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.layer.close_pools(), 2)
        await asyncio.get_running_loop().run_in_executor(self._executor, _close_connection)
        self._executor.shutdown(wait=False)

    # --- loops ------------------------------------------------------------------------------
    async def _receive_loop(self) -> None:
        delay = 0.5
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis restarts must not kill the hub
                log.warning("events hub: channel layer receive failed (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                if await self._join_group():
                    self._wake.set()  # catch up on whatever was committed meanwhile
                continue
            delay = 0.5
            kind = message.get("type")
            if kind == "hub.wakeup":
                self._wake.set()
            elif kind == "hub.summary":
                try:
                    await self.dispatch_summary(message)
                except Exception:
                    log.exception("events hub: summary dispatch failed")
            elif kind == ACCESS_CHANGED:
                users = message.get("users")
                if isinstance(users, list):
                    await self.recheck({u for u in users if isinstance(u, str)})

    async def _refresh(self) -> None:
        """Stay a member of the group however long the process lives (group expiry)."""
        while True:
            await asyncio.sleep(self.refresh_interval)
            await self._join_group()

    async def _fetch_loop(self) -> None:
        """Read new events into the buffer; the dispatch loop hands them out meanwhile."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()
            try:
                while True:
                    rows = await self.db(fetch_timed, self.last_id, BATCH)
                    self.buffer(rows)
                    if len(rows) < BATCH:
                        break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("events hub: reading new events failed")
                await asyncio.sleep(1.0)

    async def _dispatch_loop(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            try:
                await self.dispatch()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("events hub: event dispatch failed")

    async def _recheck_loop(self) -> None:
        while True:
            await asyncio.sleep(self.recheck_interval)
            await self.recheck()

    # --- rights -----------------------------------------------------------------------------
    async def recheck(self, user_ids: set[str] | None = None) -> None:
        """Hand the sockets of ``user_ids`` (all: ``None``) their users' current records."""
        members = [
            m
            for m in list(self.members)
            if getattr(m, "user_id", None) and (user_ids is None or m.user_id in user_ids)
        ]
        if not members:
            return
        try:
            users = await self.db(load_users, {m.user_id for m in members})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("events hub: re-checking access failed")
            return
        for member in members:
            if member in self.members:
                try:
                    await member.reauthorize(users.get(member.user_id))
                except Exception:
                    log.exception("events hub: re-authorizing a socket failed")

    async def summary_to(self, member: Member) -> None:
        """Send ``member`` the last summary as it may see it now, if that differs from what it
        saw (its rights changed)."""
        if self._summary_head is None or member.replaying or QUEUE not in member.interests:
            return
        data = encode(mask(self._summary_rows, member.access))
        if data == member.last_summary:
            return
        member.last_summary = data
        await member.send_frame(f'{self._summary_head},"data":{data}}}')

    # --- fan-out ----------------------------------------------------------------------------
    def buffer(self, rows: list[tuple]) -> None:
        """Queue fetched ``(id, channel, frame)`` rows (in id order) for the sockets."""
        rows = [row for row in rows if row[0] > self.last_id]
        if not rows:
            return
        for pk, channel, frame, *created in rows:
            wire, size = text_frame(frame)
            self._events.append((pk, channel, frame, wire, size))
            self._ids.append(pk)
            if created:
                self._created[pk] = created[0]
        self.last_id = rows[-1][0]
        self._joined.clear()
        self._ready.set()

    async def dispatch(self) -> None:
        """One pass over the sockets: each gets, in one write, every buffered event after its
        cursor that it is interested in. The pass yields every ``CHUNK`` sockets, so events
        fetched meanwhile go to the rest of this pass at once and to the sockets already
        served in the next pass — no event waits for a whole pass over the previous one."""
        upto = self.last_id
        members = list(self.members)
        for start in range(0, len(members), CHUNK):
            for member in members[start : start + CHUNK]:
                if member.replaying or member.cursor >= self.last_id:
                    continue
                if member in self.members:
                    await self._deliver(member)
            await asyncio.sleep(0)
        # every socket present got the events up to ``upto``; later joiners start after it
        keep = bisect.bisect_right(self._ids, upto)
        if keep:
            for pk in self._ids[:keep]:
                self._created.pop(pk, None)  # no socket wanted it
            del self._events[:keep], self._ids[:keep]
            self._joined.clear()

    async def _deliver(self, member: Member) -> None:
        first = bisect.bisect_right(self._ids, member.cursor)
        events = self._events[first:]
        member.cursor = self.last_id
        if not events:
            return
        joined = self._joined.get(first)
        if joined is None:
            channels = {event[1] for event in events}
            joined = self._joined[first] = (
                channels,
                b"".join(event[3] for event in events),
                max(event[4] for event in events),
            )
        channels, data, largest = joined
        if not channels <= member.interests:  # some, not all: this socket's own selection
            events = [event for event in events if event[1] in member.interests]
            if not events:
                return
            data = b"".join(event[3] for event in events)
            largest = max(event[4] for event in events)
        self._observe(events)
        write = getattr(member, "write_frame", None)
        if write is not None and write(data, len(events), largest):
            return
        for event in events:
            await member.send_frame(event[2])

    def _observe(self, events: list[tuple]) -> None:
        """Delivery latency (commit → first socket written) of the events written first now."""
        if not self._created:
            return
        now = time.time()
        for event in events:
            created = self._created.pop(event[0], None)
            if created is not None:
                metrics.DELIVERY.observe(max(0.0, now - created))

    async def dispatch_summary(self, message: dict) -> None:
        rows = message.get("rows") or []
        if rows != self._summary_rows:  # new raw data: masked views are recomputed lazily
            self._summary_rows = rows
            self._summary_views = {}
        head = encode(
            {
                "author": message.get("author"),
                "channel": QUEUE,
                "created": message.get("created"),
                "name": "summary",
            }
        )[:-1]
        self._summary_head = head
        frames: dict[Hashable, str] = {}
        wires: dict[Hashable, tuple[bytes, int]] = {}
        for member in list(self.members):
            if member.replaying or QUEUE not in member.interests:
                continue
            key = member.access_key
            data = self._summary_views.get(key)
            if data is None:
                data = self._summary_views[key] = encode(mask(rows, member.access))
            if member.last_summary == data:
                continue
            frame = frames.get(key)
            if frame is None:
                frame = frames[key] = f'{head},"data":{data}}}'
            member.last_summary = data
            write = getattr(member, "write_frame", None)
            if write is not None:
                wire = wires.get(key) or wires.setdefault(key, text_frame(frame))
                if write(wire[0], 1, wire[1]):
                    continue
            await member.send_frame(frame)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


async def join(member: Member) -> Hub:
    """The running hub of this event loop (started if need be), with ``member`` in it."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.stopping:
        hub = _hubs[loop] = Hub()
    # live from now on: not the buffered events of before (a resume replays those)
    member.cursor = max(member.cursor, hub.last_id)
    hub.members.add(member)
    try:
        await asyncio.shield(hub.started)
    except BaseException:
        await leave(member, hub)
        raise
    member.cursor = max(member.cursor, hub.last_id)
    return hub


async def leave(member: Member, hub: Hub) -> None:
    hub.members.discard(member)
    if not hub.members and not hub.stopping:
        loop = asyncio.get_running_loop()
        if _hubs.get(loop) is hub:
            del _hubs[loop]
        await hub.stop()
