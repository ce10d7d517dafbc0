"""WebSocket frames within named limits, answered with an error frame, socket kept open.

Issue 10: one ``interest`` frame of 100,000 names froze the event loop for a minute (item 2);
a lone surrogate or a frame nested 2,000 levels crashed the frame (item 5); anyone could chat
into the system channel ``queue``, with any size and rate (item 8).
"""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from events.models import Event
from events.outbox import store
from tests.events.helpers import (
    close,
    interest,
    make_user,
    open_socket,
    recv,
    recv_until,
    standard_user,
    token_of,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tokens(db):
    return {
        "plain": token_of(standard_user("plain")),
        "other": token_of(standard_user("other")),
        "admin": token_of(make_user("boss", ["cop"])),
    }


async def _error(ws) -> str:
    reply = await recv(ws)
    assert reply["type"] == "error", reply
    assert reply["message"] != "internal error", reply
    return reply["message"]


async def _still_open(ws) -> None:
    assert (await interest(ws, ["message"]))["data"] == ["message"]


async def _send(ws, text: str) -> None:
    await ws.send_to(text_data=text)


# --- item 2: size, count, length ---------------------------------------------------------------
async def test_interest_with_100000_names_is_refused_at_once(tokens):
    ws = await open_socket(tokens["plain"])
    names = [f"channel-{i}" for i in range(100_000)]
    await _send(ws, json.dumps({"type": "interest", "data": names}))
    message = await _error(ws)  # before the fix: a minute of CPU on the event loop
    assert "64 KiB" in message or "frame" in message
    await _still_open(ws)
    await close(ws)


async def test_frame_over_the_size_limit(tokens):
    ws = await open_socket(tokens["plain"])
    await _send(ws, json.dumps({"type": "interest", "data": ["x" * 70_000]}))
    assert "frame" in await _error(ws)
    await ws.send_to(bytes_data=b'{"type": "message", "text": "' + b"y" * 70_000 + b'"}')
    assert "frame" in await _error(ws)
    await _still_open(ws)
    await close(ws)


async def test_channels_per_socket_limit(tokens, settings):
    ws = await open_socket(tokens["plain"])
    allowed = [f"c{i}" for i in range(settings.CORE4_WS_MAX_CHANNELS)]
    reply = await interest(ws, allowed + allowed)  # duplicates count once
    assert reply["type"] == "interest" and len(reply["data"]) == len(allowed)
    await _send(ws, json.dumps({"type": "interest", "data": [*allowed, "one-more"]}))
    assert "channels" in await _error(ws)
    # chat adds its channel to the socket's interests: the same limit
    await ws.send_json_to({"type": "message", "channel": "one-more", "text": "hi"})
    assert "channels" in await _error(ws)
    await _still_open(ws)
    await close(ws)


async def test_channel_name_length_limit(tokens, settings):
    ws = await open_socket(tokens["plain"])
    longest = "n" * settings.CORE4_WS_MAX_CHANNEL_NAME
    assert (await interest(ws, [longest]))["data"] == [longest]
    await _send(ws, json.dumps({"type": "interest", "data": [longest + "n"]}))
    assert "name" in await _error(ws)
    await ws.send_json_to({"type": "message", "channel": longest + "n", "text": "hi"})
    assert "name" in await _error(ws)
    await _still_open(ws)
    await close(ws)


# --- item 5: text that is no text, deep frames ---------------------------------------------------
@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "interest", "data": ["\\ud800"]}',
        '{"type": "message", "channel": "message", "text": "\\ud800"}',
        '{"type": "message", "channel": "\\udfff", "text": "hi"}',
        '{"type": "message", "channel": "message", "text": "a\\u0000b"}',
        '{"type": "\\ud800"}',
        '{"type": "interest", "data": ["queue"], "since": "\\ud800"}',
    ],
)
async def test_lone_surrogates_and_nul_get_an_error_frame(tokens, frame):
    ws = await open_socket(tokens["plain"])
    await _send(ws, frame)
    await _error(ws)
    await _still_open(ws)
    await close(ws)
    assert not await database_sync_to_async(Event.objects.filter(channel="message").exists)()


@pytest.mark.parametrize("depth", [2_000, 30_000])
async def test_deeply_nested_frames_get_an_error_frame(tokens, depth):
    ws = await open_socket(tokens["plain"])
    nested = "[" * depth + "]" * depth
    await _send(ws, '{"type": "interest", "data": ' + nested + "}")
    await _error(ws)
    await _send(ws, '{"type": "message", "channel": "message", "text": ' + nested + "}")
    await _error(ws)
    await _still_open(ws)
    await close(ws)


# --- item 8: the system channel, chat size and rate ----------------------------------------------
@pytest.mark.parametrize("channel", ["queue", " Queue ", "QUEUE"])
async def test_chat_into_the_queue_channel_is_refused(tokens, channel):
    ws = await open_socket(tokens["plain"])
    await ws.send_json_to({"type": "message", "channel": channel, "text": "fake"})
    assert "queue" in await _error(ws)
    await _still_open(ws)
    await close(ws)
    assert not await database_sync_to_async(Event.objects.exists)()


async def test_chat_text_size_limit(tokens, settings):
    ws = await open_socket(tokens["plain"])
    limit = settings.CORE4_CHAT_MAX_TEXT
    await ws.send_json_to({"type": "message", "channel": "message", "text": "x" * limit})
    assert (await recv(ws))["type"] == "interest"
    # the message comes back to its sender (now interested in "message") whenever the hub
    # delivers it: wait for it, so that it is not taken for the answer to the next frame
    echo = await recv_until(ws, lambda frame: frame.get("channel") == "message")
    assert echo["data"] == "x" * limit
    await ws.send_json_to({"type": "message", "channel": "message", "text": "x" * (limit + 1)})
    assert "text" in await _error(ws)
    # counted in UTF-8 bytes: 3 bytes each
    await ws.send_json_to({"type": "message", "channel": "message", "text": "€" * (limit // 2)})
    assert "text" in await _error(ws)
    await close(ws)
    assert await database_sync_to_async(Event.objects.count)() == 1


async def test_chat_rate_is_limited_per_user_across_sockets(tokens, settings):
    settings.CORE4_CHAT_RATE = 0.01  # no refill worth mentioning during the test
    settings.CORE4_CHAT_BURST = 5
    first, second = await open_socket(tokens["plain"]), await open_socket(tokens["plain"])
    other = await open_socket(tokens["other"])
    replies = []
    for index in range(8):
        ws = first if index % 2 else second
        await ws.send_json_to({"type": "message", "channel": "chat", "text": f"m{index}"})
        replies.append(await recv_until(ws, lambda frame: "type" in frame))  # not the events
    accepted = [r for r in replies if r["type"] in ("interest", "send")]
    refused = [r for r in replies if r["type"] == "error"]
    assert len(accepted) == 5, replies
    assert len(refused) == 3 and all("rate" in r["message"] for r in refused), replies
    # another user has a bucket of their own
    await other.send_json_to({"type": "message", "channel": "chat", "text": "mine"})
    assert (await recv_until(other, lambda frame: "type" in frame))["type"] == "interest"
    await first.send_json_to({"type": "interest", "data": ["message"]})
    assert (await recv_until(first, lambda frame: frame.get("type") == "interest"))["data"]
    await close(first, second, other)
    assert await database_sync_to_async(Event.objects.count)() == 6


# --- item 8: histories count job events only ----------------------------------------------------
def test_histories_ignore_chat_in_the_queue_channel(tokens):
    store("enqueue_job", "queue", {"_id": "5c8fd9d7ad707128553646d6", "queue": {"pending": 1}})
    for _ in range(3):  # as stored before chat into `queue` was refused
        store("message", "queue", "x" * 100, "plain")
    auth = {"HTTP_AUTHORIZATION": "Bearer " + tokens["admin"]}
    jobs = Client().get("/core4/api/v1/jobs/history", **auth).json()
    assert [item["total"] for item in jobs["data"]] == [1]
    queue = Client().get("/core4/api/v1/queue/history", {"startDate": "2000-01-01"}, **auth).json()
    assert [item["total"] for item in queue["data"]] == [1]
