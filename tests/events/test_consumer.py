"""The event socket against the real ASGI app, auth middleware and channel layer (Redis)."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from events.models import Event, format_id
from tests.events.helpers import (
    DUMMY,
    asummary,
    atransition,
    close,
    interest,
    nothing_more,
    open_socket,
    recv,
    recv_until,
    row,
    standard_user,
    token_of,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tokens(make_user):
    admin = make_user("boss", ["cop"])
    reader = standard_user("reader", f"job://{DUMMY}/r")
    plain = standard_user("plain")
    outsider = make_user("outsider", ["api://core4.api.v1.request.queue.history.*"])
    return {
        "admin": token_of(admin),
        "reader": token_of(reader),
        "plain": token_of(plain),
        "outsider": token_of(outsider),
    }


async def _closed_with(communicator) -> int:
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    return output["code"]


# --- handshake ------------------------------------------------------------------------------
@pytest.mark.parametrize("token", [None, "garbage", "a.b.c"])
async def test_unauthenticated_socket_is_closed_4401(token):
    communicator = await open_socket(token)
    assert await _closed_with(communicator) == 4401


async def test_socket_without_event_permission_is_closed_4403(tokens):
    communicator = await open_socket(tokens["outsider"])
    assert await _closed_with(communicator) == 4403


async def test_expired_token_closes_the_open_socket():
    user = await database_sync_to_async(standard_user)("shortlived")
    token = await database_sync_to_async(token_of)(user, 1.5)
    communicator = await open_socket(token)
    reply = await interest(communicator, ["queue"])
    assert reply["type"] == "interest"
    assert await _closed_with(communicator) == 4401


# --- client frames --------------------------------------------------------------------------
async def test_interest_reply_as_core4(tokens):
    ws = await open_socket(tokens["plain"])
    assert await interest(ws, ["queue"]) == {
        "type": "interest",
        "data": ["queue"],
        "message": "processed interest in ['queue']",
    }
    reply = await interest(ws, [" Queue", "MESSAGE", "queue", 7, "", None])
    assert reply["data"] == ["queue", "message"]
    assert reply["message"] == "processed interest in ['queue', 'message']"
    await close(ws)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('{"type": "bogus"}', {"type": "error", "message": "unknown type"}),
        ('{"data": ["queue"]}', {"type": "error", "message": "unknown type"}),
        ('{"type": "message", "channel": "message"}', "malformed"),
        ('{"type": "message", "text": "hi"}', "malformed"),
        ('{"type": "message", "channel": " ", "text": "hi"}', "malformed"),
        ('{"type": "message", "channel": "message", "text": ""}', "malformed"),
        ('{"type": "message", "channel": ["x"], "text": "hi"}', "malformed"),
        ('{"type": "interest", "data": "queue"}', "malformed"),
        ('["interest"]', "malformed"),
        ("42", "malformed"),
        ("{not json", {"type": "error", "message": "error parsing json data"}),
        (" ", {"type": "error", "message": "error parsing json data"}),
        ('{"type": "interest", "data": ["queue"], "since": "zz"}', "since"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_survives(tokens, frame, expected):
    ws = await open_socket(tokens["plain"])
    await ws.send_to(text_data=frame)
    reply = await recv(ws)
    if expected == "malformed":
        assert reply == {"type": "error", "message_id": None, "message": "malformed message"}
    elif expected == "since":
        assert reply["type"] == "error"
        assert "since" in reply["message"]
    else:
        assert reply == expected
    # still open and working
    assert (await interest(ws, ["message"]))["data"] == ["message"]
    await close(ws)


async def test_binary_frame_is_read_as_text(tokens):
    ws = await open_socket(tokens["plain"])
    await ws.send_to(bytes_data=b'{"type": "interest", "data": ["queue"]}')
    assert (await recv(ws))["message"] == "processed interest in ['queue']"
    await ws.send_to(bytes_data=b"\xff\xfe")
    assert (await recv(ws))["message"] == "error parsing json data"
    await close(ws)


async def test_message_is_stored_broadcast_and_acknowledged(tokens):
    ws = await open_socket(tokens["plain"])
    await ws.send_json_to({"type": "message", "channel": "message", "text": "hello"})
    first = await recv_until(ws, lambda f: f.get("type") == "interest")
    assert first["message"] == "OK, added interest in channel"
    echo = await recv_until(ws, lambda f: f.get("name") == "message")
    assert echo["_id"] == first["message_id"]
    assert echo["author"] == "plain"
    assert echo["channel"] == "message"
    assert echo["data"] == "hello"
    await ws.send_json_to({"type": "message", "channel": "message", "text": "again"})
    second = await recv_until(ws, lambda f: f.get("type") == "send")
    assert second["message"] == "OK"
    assert second["message_id"] > first["message_id"]
    stored = await database_sync_to_async(
        lambda: list(Event.objects.filter(channel="message").values_list("data", "author"))
    )()
    assert stored == [("hello", "plain"), ("again", "plain")]
    await close(ws)


async def test_chat_between_two_users(tokens):
    alice = await open_socket(tokens["plain"])
    bob = await open_socket(tokens["reader"])
    await interest(alice, ["message", "system"])
    await interest(bob, ["message"])
    await bob.send_json_to({"type": "message", "channel": "message", "text": "hi alice"})
    got = await recv_until(alice, lambda f: f.get("channel") == "message")
    assert (got["author"], got["data"], got["name"]) == ("reader", "hi alice", "message")
    await alice.send_json_to({"type": "message", "channel": "message", "text": "hi bob"})
    got = await recv_until(bob, lambda f: f.get("data") == "hi bob")
    assert got["author"] == "plain"
    # a third socket not interested in "message" gets nothing
    carol = await open_socket(tokens["admin"])
    await interest(carol, ["queue"])
    await alice.send_json_to({"type": "message", "channel": "message", "text": "psst"})
    await recv_until(bob, lambda f: f.get("data") == "psst")
    assert await nothing_more(carol)
    await close(alice, bob, carol)


# --- queue events ---------------------------------------------------------------------------
async def test_queue_events_reach_interested_sockets_only(tokens):
    watcher = await open_socket(tokens["plain"])
    other = await open_socket(tokens["plain"])
    await interest(watcher, ["queue"])
    await interest(other, ["message"])
    job_id = await atransition("enqueue_job", {"pending": 1}, author="mra")
    frame = await recv(watcher)
    assert frame["name"] == "enqueue_job"
    assert frame["channel"] == "queue"
    assert frame["author"] == "mra"
    assert frame["data"] == {"_id": job_id, "queue": {"pending": 1}}
    assert len(frame["_id"]) == 24
    assert set(frame) == {"_id", "created", "name", "author", "channel", "data"}
    assert await nothing_more(other)
    await close(watcher, other)


async def test_events_arrive_in_commit_order(tokens):
    ws = await open_socket(tokens["plain"])
    await interest(ws, ["queue"])
    names = ["enqueue_job", "request_start_job", "start_job", "complete_job"]
    counts = [{"pending": 1}, {"running": 1}, {"running": 1}, {}]
    for name, count in zip(names, counts, strict=True):
        await atransition(name, count, job_id="5c8fd9d7ad707128553646d6")
    frames = [await recv(ws) for _ in names]
    assert [f["name"] for f in frames] == names
    assert [f["data"]["queue"] for f in frames] == counts
    assert [f["_id"] for f in frames] == sorted(f["_id"] for f in frames)
    await close(ws)


async def test_rolled_back_transition_leaves_no_event(tokens):
    from django.db import transaction

    from tests.events.helpers import transition

    def failing():
        with transaction.atomic():
            transition("enqueue_job", {"pending": 1})
            raise RuntimeError("boom")

    ws = await open_socket(tokens["plain"])
    await interest(ws, ["queue"])
    with pytest.raises(RuntimeError):
        await database_sync_to_async(failing)()
    assert await nothing_more(ws, 1.0)
    assert await database_sync_to_async(Event.objects.count)() == 0
    await close(ws)


# --- resume ---------------------------------------------------------------------------------
async def test_resume_replays_missed_events_then_continues_live(tokens):
    ids = []
    for n in range(5):
        await atransition("enqueue_job", {"pending": n + 1}, job_id=f"{n:024x}")
    await database_sync_to_async(
        lambda: __import__("events.outbox").outbox.store("message", "message", "chat", "x")
    )()
    ids = await database_sync_to_async(
        lambda: [
            format_id(pk)
            for pk in Event.objects.filter(channel="queue").values_list("id", flat=True)
        ]
    )()
    ws = await open_socket(tokens["plain"])
    reply = await interest(ws, ["queue"], since=ids[1])
    assert reply["type"] == "interest"
    replayed = [await recv(ws) for _ in range(3)]
    assert [f["_id"] for f in replayed] == ids[2:]
    assert [f["data"]["queue"]["pending"] for f in replayed] == [3, 4, 5]
    assert await nothing_more(ws)  # the chat message is not in the interest
    await atransition("complete_job", {"pending": 4})
    live = await recv(ws)
    assert live["name"] == "complete_job"
    assert live["_id"] > ids[-1]
    assert await nothing_more(ws)  # exactly once
    await close(ws)


async def test_resume_while_events_flow_loses_and_duplicates_nothing(tokens):
    for _ in range(3):
        await atransition("enqueue_job", {"pending": 1})
    first = await database_sync_to_async(lambda: Event.objects.order_by("id").first().pk)()
    ws = await open_socket(tokens["plain"])

    async def produce():
        for _ in range(20):
            await atransition("start_job", {"running": 1})

    producer = asyncio.ensure_future(produce())
    await interest(ws, ["queue"], since=format_id(first))
    await producer
    expected = await database_sync_to_async(
        lambda: [
            format_id(pk) for pk in Event.objects.filter(id__gt=first).values_list("id", flat=True)
        ]
    )()
    got = [(await recv(ws))["_id"] for _ in expected]
    assert got == expected
    assert await nothing_more(ws)
    await close(ws)


# --- summaries ------------------------------------------------------------------------------
async def test_summary_is_masked_per_user_and_merged(tokens):
    admin = await open_socket(tokens["admin"])
    reader = await open_socket(tokens["reader"])
    plain = await open_socket(tokens["plain"])
    for ws in (admin, reader, plain):
        await interest(ws, ["queue"])
    rows = [
        row("app.Secret", "pending", 2, 0.5),
        row(DUMMY, "pending", 1, 0.2),
        row("zzz.Other", "pending", 1),
        row(DUMMY, "running", 1),
    ]
    await asummary(rows)
    seen_admin = await recv(admin)
    seen_reader = await recv(reader)
    seen_plain = await recv(plain)
    assert seen_admin["name"] == "summary"
    assert seen_admin["channel"] == "queue"
    assert seen_admin["author"] == "mra"
    assert seen_admin["data"] == rows
    assert "_id" not in seen_admin
    # sorted by state, name ("U" sorts before "c"); jobs without progress do not weigh
    assert seen_reader["data"] == [
        {**row("UnauthorizedJob", "pending", 3), "progress": 0.5},
        row(DUMMY, "pending", 1, 0.2),
        row(DUMMY, "running", 1),
    ]
    assert seen_plain["data"] == [
        {**row("UnauthorizedJob", "pending", 4), "progress": (2 * 0.5 + 0.2) / 3},
        row("UnauthorizedJob", "running", 1),
    ]
    await close(admin, reader, plain)


async def test_summary_sent_only_when_the_masked_view_changed(tokens):
    admin = await open_socket(tokens["admin"])
    plain = await open_socket(tokens["plain"])
    await interest(admin, ["queue"])
    await interest(plain, ["queue"])
    await asummary([])  # empty queue, nothing sent before: nothing changed
    assert await nothing_more(admin)
    await asummary([row(DUMMY, "pending")])
    assert (await recv(admin))["data"] == [row(DUMMY, "pending")]
    assert (await recv(plain))["data"] == [row("UnauthorizedJob", "pending")]
    await asummary([row(DUMMY, "pending")])  # same again: nothing
    # another job name: the admin's view changes, the plain user's masked view does not
    await asummary([row("other.Job", "pending")])
    assert (await recv(admin))["data"] == [row("other.Job", "pending")]
    assert await nothing_more(plain)
    await asummary([])
    assert (await recv(admin))["data"] == []
    assert (await recv(plain))["data"] == []
    await asummary([])
    assert await nothing_more(admin)
    assert await nothing_more(plain, 0.1)
    await close(admin, plain)


async def test_summary_not_sent_without_queue_interest(tokens):
    ws = await open_socket(tokens["admin"])
    await interest(ws, ["message"])
    await asummary([row(DUMMY, "pending")])
    assert await nothing_more(ws)
    await close(ws)


def test_a_hub_abandoned_on_a_finished_loop_does_not_block_the_next(tokens):
    """A hub whose loop ended without stopping it (a cut-off disconnect) must not keep the
    next loop's hub from receiving (channels-redis allows one receiving loop per layer)."""
    from events import hub as hubs

    class Sink:
        interests = {"queue"}
        replaying = False
        cursor = 0
        last_summary = "[]"
        access = None
        access_key = ("cop",)

        async def send_frame(self, frame):
            pass

    async def abandon():
        await hubs.join(Sink())
        await asyncio.sleep(0.2)  # its receive loop is waiting on the layer now

    loop = asyncio.new_event_loop()
    loop.run_until_complete(abandon())  # never left: the loop ends with the hub running

    async def next_loop():
        ws = await open_socket(tokens["admin"])
        await interest(ws, ["queue"])
        await asummary([row(DUMMY, "pending")])
        frame = await recv(ws)
        await close(ws)
        return frame

    try:
        assert asyncio.run(next_loop())["data"] == [row(DUMMY, "pending")]
    finally:
        abandoned = hubs._hubs.get(loop)
        if abandoned is not None:  # its database connection (PostgreSQL drops the test db)
            abandoned._executor.submit(hubs._close_connection).result(10)
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0.1))
        loop.close()
