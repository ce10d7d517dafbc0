"""The per-process publisher: off the committing thread, coalescing, never failing, fork-safe."""

from __future__ import annotations

import os
import threading

from events import publisher
from events.publisher import Publisher


def _recorder(block_first: threading.Event | None = None):
    sent: list[dict] = []
    started = threading.Event()

    async def send(message: dict) -> None:
        sent.append(message)
        started.set()
        if block_first is not None and len(sent) == 1:
            while not block_first.is_set():  # the layer is slow: hold the thread
                block_first.wait(0.01)

    return send, sent, started


def test_wakeups_coalesce_to_the_highest_id_while_a_send_is_under_way():
    release = threading.Event()
    send, sent, started = _recorder(release)
    errors: list = []
    pub = Publisher(send, lambda message, exc: errors.append(exc))
    pub.wakeup({"type": "hub.wakeup", "id": 1})
    assert started.wait(10)
    for event_id in (5, 3, 9, 7):  # handed over while the first send is still under way
        pub.wakeup({"type": "hub.wakeup", "id": event_id})
    pub.summary({"type": "hub.summary", "rows": [1]})
    pub.summary({"type": "hub.summary", "rows": [2]})
    release.set()
    assert pub.flush(10)
    assert sent == [
        {"type": "hub.wakeup", "id": 1},
        {"type": "hub.summary", "rows": [2]},  # only the newest summary
        {"type": "hub.wakeup", "id": 9},  # only the highest id
    ]
    assert not errors
    pub.close()


def test_a_failing_send_is_reported_and_the_publisher_goes_on():
    calls: list[dict] = []

    async def send(message: dict) -> None:
        calls.append(message)
        if len(calls) == 1:
            raise ConnectionError("layer down")

    errors: list = []
    pub = Publisher(send, lambda message, exc: errors.append((message["id"], exc)))
    pub.wakeup({"type": "hub.wakeup", "id": 1})
    assert pub.flush(10)
    pub.wakeup({"type": "hub.wakeup", "id": 2})
    assert pub.flush(10)
    assert [m["id"] for m in calls] == [1, 2]
    assert len(errors) == 1 and errors[0][0] == 1 and isinstance(errors[0][1], ConnectionError)
    pub.close()


def test_a_forked_child_gets_a_publisher_of_its_own():
    send, _, _ = _recorder()
    parent = publisher.get(send, lambda message, exc: None)
    assert publisher.get(send, lambda message, exc: None) is parent
    pid = os.fork()
    if pid == 0:  # the child: the parent's thread does not exist here
        code = 1
        try:
            child = publisher.get(send, lambda message, exc: None)
            child.wakeup({"type": "hub.wakeup", "id": 1})
            code = 0 if child is not parent and child.flush(10) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
