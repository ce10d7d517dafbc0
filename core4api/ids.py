"""Identifiers and timestamps as core4 clients expect them."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime


class _ObjectIdState:
    """Per-process part and counter of object ids (re-drawn after a fork)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counter = int.from_bytes(os.urandom(3), "big")
        self.pid = os.getpid()
        self.random = os.urandom(5)

    def next(self) -> tuple[bytes, int]:
        with self.lock:
            if os.getpid() != self.pid:
                self.pid = os.getpid()
                self.random = os.urandom(5)
            self.counter = (self.counter + 1) & 0xFFFFFF
            return self.random, self.counter


_state = _ObjectIdState()


def object_id() -> str:
    """A 24-hex-digit id shaped like a MongoDB ObjectId: time-ordered, unique across processes.

    4 bytes of seconds, 5 random bytes per process, 3 bytes counter.
    """
    random_part, counter = _state.next()
    return (int(time.time()).to_bytes(4, "big") + random_part + counter.to_bytes(3, "big")).hex()


def is_object_id(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 24:
        return False
    try:
        int(value, 16)
    except ValueError:
        return False
    return True


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(value: datetime | None) -> str | None:
    """UTC ISO-8601 without offset, as core4 writes datetimes (``2019-03-18T17:44:54``)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat()
