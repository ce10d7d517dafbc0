"""The per-process publisher: off the committing thread, coalescing, never failing, fork-safe."""

from __future__ import annotations

import os
import threading
import time

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


def test_wakeups_are_spaced_by_the_interval_and_a_summary_does_not_wait():
    """After a wake-up was sent, the next one waits for ``interval`` and carries the highest id
    handed over meanwhile; a summary goes out meanwhile."""
    sent: list[tuple[float, dict]] = []

    async def send(message: dict) -> None:
        sent.append((time.monotonic(), message))

    pub = Publisher(send, lambda message, exc: None, interval=1.0)
    pub.wakeup({"type": "hub.wakeup", "id": 1})
    assert pub.flush(10)  # the first one at once: nothing was sent before
    for event_id in (2, 4, 3):
        pub.wakeup({"type": "hub.wakeup", "id": event_id})
    pub.summary({"type": "hub.summary", "rows": [1]})
    assert pub.flush(10)
    assert [message for _, message in sent] == [
        {"type": "hub.wakeup", "id": 1},
        {"type": "hub.summary", "rows": [1]},  # not held back by the wake-ups' interval
        {"type": "hub.wakeup", "id": 4},  # one for the three, the highest id
    ]
    assert sent[2][0] - sent[0][0] >= 1.0
    pub.close()


def test_the_process_publisher_takes_the_interval_setting(settings):
    from events import outbox

    settings.CORE4_EVENTS_WAKEUP_INTERVAL = 0.25
    before, publisher._Process.publisher = publisher._Process.publisher, None
    try:
        made = outbox._publisher()
        assert made._interval == 0.25
    finally:
        publisher._Process.publisher = before
    made.close()
