"""The whole seed session (seed/event-processing.txt) against real processes.

daphne, ``manage.py enqueue`` and ``manage.py worker`` run as separate OS processes on a
fresh database, with the channel layer of the mode under test (REDIS_URL's Redis, or the
embedded private Redis); the clients are the seed's: ``requests`` and ``websocket-client``.
"""

from __future__ import annotations

import json
import threading

import pytest
from requests import get, post
from websocket import WebSocketTimeoutException, create_connection

from tests.support import wait_for

pytestmark = pytest.mark.e2e

DUMMY = "core4.queue.helper.job.example.DummyJob"
QUEUE_EVENTS = ["enqueue_job", "request_start_job", "start_job", "complete_job"]


class Listener:
    """Reads one socket in a thread, keeping every frame."""

    def __init__(self, url: str):
        self.ws = create_connection(url, timeout=30)
        self.frames: list[dict] = []
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def handshake(self) -> dict:
        self.ws.send(json.dumps({"type": "interest", "data": ["queue"]}))
        reply = json.loads(self.ws.recv())
        self.ws.settimeout(0.5)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return reply

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                text = self.ws.recv()
            except WebSocketTimeoutException:
                continue
            except Exception:  # noqa: BLE001 - socket closed at the end of the test
                return
            if text:
                self.frames.append(json.loads(text))

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(5)
        self.ws.close()

    def events(self, job_id: str) -> list[dict]:
        return [
            f
            for f in list(self.frames)
            if f.get("name") != "summary" and (f.get("data") or {}).get("_id") == job_id
        ]

    def summaries(self) -> list[dict]:
        return [f for f in list(self.frames) if f.get("name") == "summary"]

    def done(self, job_id: str):
        """complete_job seen, and after it a summary with ``data: []``."""
        frames = list(self.frames)
        for index, frame in enumerate(frames):
            if frame.get("name") == "complete_job" and frame["data"]["_id"] == job_id:
                return any(
                    f.get("name") == "summary" and f["data"] == [] for f in frames[index + 1 :]
                )
        return False


def test_seed_session_end_to_end(live_stack):
    base = live_stack.start_daphne()
    ws_base = live_stack.ws_url

    # -- the seed, as written (host and port aside) ------------------------------------------
    login = get(f"{base}/core4/api/login?username=admin&password=hans")
    token = login.json()["data"]["token"]
    rv = post(
        f"{base}/core4/api/v1/roles",
        headers={"Authorization": "Bearer " + token},
        json={
            "name": "test",
            "realname": "Test User",
            "email": "test@plan-net.com",
            "password": "very secret",
            "role": ["standard_user"],
            "perm": ["api://core4.api.v1.request.queue.history.*"],
        },
    )
    assert rv.status_code == 200
    user_login = get(f"{base}/core4/api/login?username=test&password=very secret")
    user_token = user_login.json()["data"]["token"]

    rv = get(f"{base}/core4/api/v1/jobs/history?token=" + user_token)
    assert rv.status_code == 200
    assert rv.json()["data"] == []  # a fresh queue has no history yet
    url = f"{base}/core4/api/v1/jobs/history?token=" + user_token
    assert get(url + "&page=1").status_code == 200
    assert get(url + "&page=2").status_code == 200

    user_ws = Listener(f"{ws_base}/core4/api/v1/event?token=" + user_token)
    admin_ws = Listener(f"{ws_base}/core4/api/v1/event?token=" + token)
    try:
        expected_reply = {
            "data": ["queue"],
            "message": "processed interest in ['queue']",
            "type": "interest",
        }
        assert user_ws.handshake() == expected_reply
        assert admin_ws.handshake() == expected_reply

        # "Open up another terminal, enqueue some jobs and start a worker."
        enqueued = live_stack.manage("enqueue", DUMMY, "sleep=3")
        job_id = enqueued.stdout.strip().splitlines()[-1]
        assert len(job_id) == 24
        live_stack.start_worker("worker-1")

        wait_for(
            lambda: user_ws.done(job_id) and admin_ws.done(job_id),
            90,
            interval=0.1,
            message=f"job events/summaries incomplete; worker log:\n{live_stack.log('worker-1')}",
        )
    finally:
        user_ws.close()
        admin_ws.close()

    for listener in (user_ws, admin_ws):
        events = listener.events(job_id)
        assert [e["name"] for e in events] == QUEUE_EVENTS
        assert [e["data"]["queue"] for e in events] == [
            {"pending": 1},
            {"running": 1},
            {"running": 1},
            {},
        ]
        for event in events:
            assert event["channel"] == "queue"
            assert set(event) == {"_id", "author", "channel", "created", "data", "name"}
        ids = [e["_id"] for e in events]
        assert ids == sorted(ids) and len(set(ids)) == 4
        assert listener.summaries()[-1]["data"] == []

    user_names = {row["name"] for s in user_ws.summaries() for row in s["data"]}
    admin_names = {row["name"] for s in admin_ws.summaries() for row in s["data"]}
    assert user_names == {"UnauthorizedJob"}
    assert admin_names == {DUMMY}
    for summary in user_ws.summaries():
        assert summary["channel"] == "queue"
        for row in summary["data"]:
            assert set(row) >= {"name", "state", "n", "zombie", "wall", "removed", "killed"}
    # only-when-changed: no two consecutive summaries on one socket are equal
    for listener in (user_ws, admin_ws):
        data = [s["data"] for s in listener.summaries()]
        assert all(a != b for a, b in zip(data, data[1:], strict=False))

    # -- the history afterwards: newest first, with totals -----------------------------------
    history = get(url).json()
    assert history["total_count"] == 4
    assert history["page_count"] == 1
    assert [{k: v for k, v in item.items() if k != "created"} for item in history["data"]] == [
        {"total": 0},
        {"running": 1, "total": 1},
        {"running": 1, "total": 1},
        {"pending": 1, "total": 1},
    ]
    created = [item["created"] for item in history["data"]]
    assert created == sorted(created, reverse=True)
    paged = get(url + "&per_page=3&page=1").json()
    assert (paged["page"], paged["page_count"], paged["count"]) == (1, 2, 1)
    assert paged["data"] == [history["data"][-1]]
