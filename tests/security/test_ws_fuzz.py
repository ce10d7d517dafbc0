"""Fuzz the event socket: thousands of random frames, each answered, the consumer never down.

Hypothesis draws the frames (random JSON, core4-shaped frames with random fields, lone
surrogates, NULs, deep nesting, random bytes); they go through one socket in-process
(Channels' ``WebsocketCommunicator`` on the real ASGI application), so 2,000+ frames take
seconds. Every frame must get exactly one reply — a reply of its kind or an error frame, never
``internal error`` — and the socket must still work at the end. A failure names the frame.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.events.helpers import close, open_socket, recv, standard_user, token_of

pytestmark = pytest.mark.django_db(transaction=True)

FRAMES = 2_200

BAD_TEXT = st.sampled_from(["\ud800", "a\udfffb", "\x00", "x\x00", "\ud83d"])
LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON = st.recursive(
    LEAF | BAD_TEXT,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
NAMES = (
    st.text(max_size=140)
    | st.sampled_from(["queue", " Queue ", "QUEUE", "message", "chat", "n" * 128, "n" * 129])
    | BAD_TEXT
)
SINCE = LEAF | st.text(alphabet="0123456789abcdef", max_size=26) | st.integers(-5, 10**30)
INTEREST = st.fixed_dictionaries(
    {"type": st.just("interest"), "data": st.lists(NAMES | LEAF, max_size=30) | JSON},
    optional={"since": SINCE},
)
MESSAGE = st.fixed_dictionaries(
    {"type": st.just("message")},
    optional={
        "channel": NAMES | JSON,
        "text": st.text(max_size=200) | BAD_TEXT | JSON | st.integers(0, 20_000).map("t".__mul__),
    },
)
CHAT = st.fixed_dictionaries(
    {"type": st.just("message"), "channel": NAMES, "text": st.text(min_size=1, max_size=50)}
)
OBJECTS = INTEREST | MESSAGE | CHAT | st.dictionaries(st.text(max_size=8), JSON, max_size=4) | JSON
DEEP = st.integers(1, 5_000).map(lambda depth: "[" * depth + "]" * depth)
TEXT_FRAMES = OBJECTS.map(json.dumps) | st.text(max_size=100) | DEEP
BYTE_FRAMES = st.binary(max_size=200) | OBJECTS.map(lambda value: json.dumps(value).encode())
# (the communicator cannot send an empty frame)
FRAME = st.tuples(st.just("text"), TEXT_FRAMES.filter(len)) | st.tuples(
    st.just("bytes"), BYTE_FRAMES.filter(len)
)


def draw_frames(count: int) -> list[tuple[str, str | bytes]]:
    """At least ``count`` frames drawn by Hypothesis (generation only: each is checked live;
    drawn in runs of frames, as Hypothesis's cost is per example)."""
    frames: list[tuple[str, str | bytes]] = []

    @settings(
        max_examples=count // 25 + 1,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(FRAME, min_size=10, max_size=30))
    def collect(run):
        frames.extend(run)

    while len(frames) < count:
        collect()
    return frames


async def _reply(ws, frame) -> dict:
    """The frame's reply; events (replays, chat echoes) have no ``type`` and are skipped."""
    for _ in range(10_000):
        message = await recv(ws, timeout=10)
        if "type" in message:
            return message
    raise AssertionError(f"no reply to {frame!r:.300}")


@pytest.fixture
def token(db):
    return token_of(standard_user("fuzzer"))


async def test_random_frames_are_all_answered_and_the_socket_survives(token):
    ws = await open_socket(token)
    frames = draw_frames(FRAMES)
    assert len(frames) >= 2_000
    kinds: dict[str, int] = {}
    for kind, payload in frames:
        if kind == "text":
            await ws.send_to(text_data=payload)
        else:
            await ws.send_to(bytes_data=payload)
        reply = await _reply(ws, payload)
        assert reply["type"] in ("interest", "send", "error"), (payload, reply)
        assert reply.get("message") != "internal error", (payload, reply)
        kinds[reply["type"]] = kinds.get(reply["type"], 0) + 1
    assert (await _reply_to_interest(ws))["data"] == ["message"]
    assert kinds.get("error") and kinds.get("interest"), kinds
    await close(ws)


async def _reply_to_interest(ws) -> dict:
    await ws.send_json_to({"type": "interest", "data": ["message"]})
    return await _reply(ws, "final interest")
