"""Announcing committed events off the committing thread: one publisher per process.

Sending a wake-up to the channel layer from the committing thread (``async_to_sync`` per
event: a fresh event loop and a fresh Redis connection each time) cost ~6.5 ms per
transition — more than the transition itself. The publisher is a daemon thread that owns
one event loop (so channels-redis keeps one connection pool for the process) and sends
what ``on_commit`` handed it. Only the newest state matters to the hubs — they read the
events from the database and take the id in a wake-up as a hint — so wake-ups coalesce
into one carrying the highest id, and summaries into the latest one: a burst of commits
costs one Redis round trip, and a slow or unreachable layer never queues work up.

Wake-ups are also spaced: after one was sent, the next goes out no sooner than
``interval`` seconds later (``CORE4_EVENTS_WAKEUP_INTERVAL``, default 10 ms), carrying the
highest id handed over meanwhile. A lone commit is announced at once; a process committing
hundreds of transitions a second (a worker draining, an enqueue loop) sends at most
1/interval wake-ups a second instead of one per commit — each costs this process ~0.5–1 ms
of CPU in channels-redis, and each makes every hub read the database.

``notify`` never blocks on the layer and never raises. The thread is started on first use
and again in a forked child (the parent's thread does not exist there). ``flush`` waits
until everything handed over has been sent (or failed); it runs at interpreter exit, so
``manage.py enqueue`` still announces its event before the process ends.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Give up on one send after this long (the layer is unreachable or stuck).
SEND_TIMEOUT = 5.0
#: At interpreter exit wait at most this long for pending sends.
EXIT_FLUSH_TIMEOUT = 5.0


class Publisher:
    """Hands messages to ``send`` (a coroutine function) from a thread of its own."""

    def __init__(
        self,
        send: Callable,
        on_error: Callable[[dict, BaseException], None],
        interval: float = 0.0,
    ):
        self._send = send
        #: seconds from one wake-up sent to the next
        self._interval = interval
        self._sent_at = float("-inf")  # monotonic time the last wake-up was taken to send
        self._on_error = on_error
        self._cond = threading.Condition()
        self._wakeup: dict | None = None  # newest wake-up not yet sent
        self._summary: dict | None = None  # newest summary not yet sent
        self._busy = False
        self._thread: threading.Thread | None = None
        self._closed = False

    # --- callers ----------------------------------------------------------------------------
    def wakeup(self, message: dict) -> None:
        """Queue a wake-up; one with a higher ``id`` replaces a pending one."""
        with self._cond:
            pending = self._wakeup
            if pending is None or message.get("id", 0) >= pending.get("id", 0):
                self._wakeup = message
            self._start()
            if pending is None:  # else the thread knows one is due (no switch to it)
                self._cond.notify_all()

    def summary(self, message: dict) -> None:
        """Queue a summary; it replaces a pending one (only the newest is worth sending)."""
        with self._cond:
            self._summary = message
            self._start()
            self._cond.notify_all()

    def flush(self, timeout: float = SEND_TIMEOUT) -> bool:
        """Wait until nothing is pending or being sent; ``False`` if ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._wakeup is not None or self._summary is not None or self._busy:
                if self._thread is None or not self._thread.is_alive():
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = EXIT_FLUSH_TIMEOUT) -> None:
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # --- the thread -------------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._closed = False
            self._thread = threading.Thread(target=self._run, name="events-publisher", daemon=True)
            self._thread.start()

    def _take(self) -> list[dict] | None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()  # flush() may be waiting
            while True:
                if self._summary is not None:
                    break
                if self._wakeup is not None:
                    wait = self._sent_at + self._interval - time.monotonic()
                    if wait <= 0 or self._closed:
                        break
                    self._cond.wait(wait)  # spaced: more may coalesce meanwhile
                    continue
                if self._closed:
                    return None
                self._cond.wait()
            wakeup = self._wakeup
            if wakeup is not None and self._sent_at + self._interval <= time.monotonic():
                self._wakeup = None
                self._sent_at = time.monotonic()
            else:
                wakeup = None  # a summary now; the wake-up when its time comes
            batch = [m for m in (self._summary, wakeup) if m is not None]
            self._summary = None
            self._busy = True
            return batch

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            while (batch := self._take()) is not None:
                for message in batch:
                    try:
                        loop.run_until_complete(asyncio.wait_for(self._send(message), SEND_TIMEOUT))
                    except Exception as exc:  # noqa: BLE001 - reported, never raised
                        self._on_error(message, exc)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
            with contextlib.suppress(Exception):
                loop.close()


class _Process:
    """This process's publisher, and whether the exit/fork hooks are installed."""

    publisher: Publisher | None = None
    lock = threading.Lock()
    hooks = False


def get(
    send: Callable, on_error: Callable[[dict, BaseException], None], interval: float = 0.0
) -> Publisher:
    """This process's publisher (created on first use; a forked child gets its own),
    wake-ups at least ``interval`` seconds apart."""
    publisher = _Process.publisher
    if publisher is None:
        with _Process.lock:
            if not _Process.hooks:
                _Process.hooks = True
                atexit.register(_at_exit)
                os.register_at_fork(after_in_child=_after_fork_in_child)
            if _Process.publisher is None:
                _Process.publisher = Publisher(send, on_error, interval)
            publisher = _Process.publisher
    return publisher


def flush(timeout: float = SEND_TIMEOUT) -> bool:
    """Wait for this process's pending announcements (``True`` if none is left)."""
    publisher = _Process.publisher
    return True if publisher is None else publisher.flush(timeout)


def _at_exit() -> None:
    publisher = _Process.publisher
    if publisher is not None:
        publisher.close()


def _after_fork_in_child() -> None:
    # the parent's thread does not exist here, and its lock may have been held at fork time
    _Process.publisher = None
    _Process.lock = threading.Lock()
