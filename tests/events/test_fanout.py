"""The hub's fan-out: buffered events reach every socket once, in id order, batched into
one write per socket per pass, also when events arrive while a pass is running; sockets
that cannot take raw frames get them one by one; new sockets start live."""

from __future__ import annotations

import asyncio
import json
import socket
import struct

import pytest

from events import hub as hubs
from events.wire import _write_now, text_frame

pytestmark = pytest.mark.django_db(transaction=True)


def parse_frames(data: bytes) -> list[str]:
    texts, offset = [], 0
    while offset < len(data):
        size, head = data[offset + 1] & 0x7F, 2
        if size == 126:
            size, head = struct.unpack("!H", data[offset + 2 : offset + 4])[0], 4
        elif size == 127:
            size, head = struct.unpack("!Q", data[offset + 2 : offset + 10])[0], 10
        assert data[offset] == 0x81
        texts.append(data[offset + head : offset + head + size].decode())
        offset += head + size
    return texts


class Sink:
    """A socket as the hub sees it; ``raw``: takes pre-framed bytes (as on daphne)."""

    def __init__(self, interests=("queue",), raw=True, on_write=None):
        self.interests = set(interests)
        self.replaying = False
        self.cursor = 0
        self.last_summary = "[]"
        self.access = None
        self.access_key = ("cop",)
        self.user_id = None
        self.writes: list[tuple[bytes, int]] = []
        self.sent: list[str] = []
        self.on_write = on_write
        self.write_frame = self._write if raw else None

    def _write(self, data: bytes, messages: int, largest: int) -> bool:
        self.writes.append((data, messages))
        if self.on_write is not None:
            self.on_write(self)
        return True

    async def send_frame(self, frame: str) -> None:
        self.sent.append(frame)

    def frames(self) -> list[str]:
        return [text for data, _ in self.writes for text in parse_frames(data)] + self.sent


def rows(first: int, count: int, channel: str = "queue") -> list[tuple[int, str, str]]:
    return [
        (pk, channel, json.dumps({"_id": pk, "channel": channel}))
        for pk in range(first, first + count)
    ]


async def settle(hub, sinks, expected: int, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while any(len(s.frames()) < expected for s in sinks):
        assert asyncio.get_running_loop().time() < deadline, [len(s.frames()) for s in sinks]
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # nothing more arrives


async def test_every_socket_gets_every_event_once_in_order_batched():
    sinks = [Sink() for _ in range(3 * hubs.CHUNK + 7)]
    plain = Sink(raw=False)  # a test communicator or another server: frame by frame
    refusing = Sink()
    refusing.write_frame = lambda data, messages, largest: False  # e.g. compression
    hub = None
    for sink in [*sinks, plain, refusing]:
        hub = await hubs.join(sink)
    try:
        base = hub.last_id + 1
        hub.buffer(rows(base, 3))
        hub.buffer(rows(base + 3, 2))  # before the pass ran: the same write
        everyone = [*sinks, plain, refusing]
        await settle(hub, everyone, 5)
        expected = [text for _, _, text in rows(base, 5)]
        for sink in everyone:
            assert sink.frames() == expected
        assert all(len(sink.writes) == 1 and sink.writes[0][1] == 5 for sink in sinks)
        assert plain.sent == expected and refusing.sent == expected
        assert not hub._events  # handed to all: dropped from the buffer
    finally:
        for sink in [*sinks, plain, refusing]:
            await hubs.leave(sink, hub)


async def test_events_arriving_during_a_pass_reach_everyone_in_order():
    """One socket's write stands for an event committed while the pass runs: the rest of the
    pass gets both events in one write, the sockets already served the next pass."""
    state = {"hub": None, "base": 0, "added": False}

    def commit_meanwhile(sink):
        if not state["added"]:
            state["added"] = True
            state["hub"].buffer(rows(state["base"] + 1, 1))

    sinks = [Sink(on_write=commit_meanwhile)] + [Sink() for _ in range(2 * hubs.CHUNK)]
    for sink in sinks:
        state["hub"] = await hubs.join(sink)
    hub = state["hub"]
    try:
        state["base"] = hub.last_id + 1
        hub.buffer(rows(state["base"], 1))
        await settle(hub, sinks, 2)
        expected = [text for _, _, text in rows(state["base"], 2)]
        for sink in sinks:
            assert sink.frames() == expected
        # served before the second event was read: two writes; after it: one with both
        assert [messages for _, messages in sinks[0].writes] == [1, 1]
        assert {tuple(m for _, m in sink.writes) for sink in sinks} <= {(1, 1), (2,)}
    finally:
        for sink in sinks:
            await hubs.leave(sink, hub)


async def test_interests_select_and_new_sockets_start_live():
    queue, chat, both = Sink(), Sink(("chat",)), Sink(("queue", "chat"))
    for sink in (queue, chat, both):
        hub = await hubs.join(sink)
    try:
        base = hub.last_id + 1
        mixed = rows(base, 2) + rows(base + 2, 1, "chat") + rows(base + 3, 1)
        hub.buffer(mixed)
        await settle(hub, [both], 4)
        assert [json.loads(f)["_id"] for f in queue.frames()] == [base, base + 1, base + 3]
        assert [json.loads(f)["_id"] for f in chat.frames()] == [base + 2]
        assert [json.loads(f)["_id"] for f in both.frames()] == list(range(base, base + 4))
        late = Sink()
        await hubs.join(late)
        hub.buffer(rows(base + 4, 1))
        await settle(hub, [late], 1)
        assert [json.loads(f)["_id"] for f in late.frames()] == [base + 4]
        await hubs.leave(late, hub)
    finally:
        for sink in (queue, chat, both):
            await hubs.leave(sink, hub)


class Transport:
    """The parts of a Twisted TCP transport that ``_write_now`` looks at."""

    def __init__(self, sock, queued: bytes = b""):
        self.socket = sock
        self.connected = True
        self._writeDisconnected = False
        self.disconnecting = False
        self._tempDataLen = len(queued)
        self.dataBuffer = b""
        self.offset = 0
        self.producer = None
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))


def test_raw_write_goes_to_the_socket_unless_something_is_queued():
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    try:
        frame, _ = text_frame("hello")
        transport = Transport(ours)
        _write_now(transport, frame)
        assert theirs.recv(100) == frame and transport.written == []
        queued = Transport(ours, queued=b"earlier")
        _write_now(queued, frame)  # after what is queued: through the transport
        assert queued.written == [frame]
        big = b"x" * (8 << 20)  # more than the socket takes at once: the rest is queued
        _write_now(transport, big)
        assert transport.written and len(transport.written[0]) < len(big)
        received = b""
        theirs.setblocking(False)
        while True:
            try:
                chunk = theirs.recv(1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                break
            received += chunk
        assert received + transport.written[0] == big
    finally:
        ours.close()
        theirs.close()
