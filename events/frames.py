"""Client frames of the event socket, checked against named limits before any work is done.

Everything a client sends on ``/core4/api/v1/event`` passes through here first: a frame too
large, not JSON, nested too deeply, naming too many or too long channels, carrying text that
is no text (NUL, lone surrogates), chatting into the system channel or too much or too fast
raises :class:`FrameError`, which the consumer answers with its error frame; the socket stays
open. All checks are linear in the frame's size, and the frame's size is bounded first, so a
frame costs at most a few milliseconds of the event loop (``bench/frames.py``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from core4api.text import text_error
from events.models import MAX_CHANNEL, QUEUE


@dataclass(frozen=True)
class Limits:
    frame: int  # bytes of one client frame
    channels: int  # channels one socket is interested in
    name: int  # characters of a channel name
    text: int  # UTF-8 bytes of a chat message
    rate: float  # chat messages per second and user (refill of the bucket)
    burst: int  # chat messages a user may send at once

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            frame=settings.CORE4_WS_MAX_FRAME,
            channels=settings.CORE4_WS_MAX_CHANNELS,
            name=min(settings.CORE4_WS_MAX_CHANNEL_NAME, MAX_CHANNEL),  # the column's size
            text=settings.CORE4_CHAT_MAX_TEXT,
            rate=settings.CORE4_CHAT_RATE,
            burst=settings.CORE4_CHAT_BURST,
        )


class FrameError(Exception):
    """A frame refused; ``frame()`` is the error frame that answers it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def frame(self) -> str:
        return error_frame(self.message)


class NotJson(FrameError):
    def frame(self) -> str:  # as before the limits: without ``message_id``
        return json.dumps({"type": "error", "message": self.message})


def error_frame(message: str) -> str:
    return json.dumps({"type": "error", "message_id": None, "message": message})


MALFORMED = "malformed message"


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _check_text(text: str, what: str) -> None:
    error = text_error(text, what)
    if error:
        raise FrameError(error)


def parse(text_data: str | None, bytes_data: bytes | None, limits: Limits) -> dict:
    """The frame as a JSON object (binary frames are read as UTF-8 text)."""
    size = len(bytes_data or b"") if text_data is None else _size(text_data)
    if size > limits.frame:
        raise FrameError(f"frame too large: {size} bytes, limit {limits.frame} bytes")
    if text_data is None:
        try:
            text_data = (bytes_data or b"").decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotJson("error parsing json data") from exc
    try:
        message = json.loads(text_data)
    except RecursionError as exc:
        raise FrameError("frame nested too deeply") from exc
    except ValueError as exc:
        raise NotJson("error parsing json data") from exc
    if not isinstance(message, dict):
        raise FrameError(MALFORMED)
    return message


def interest_channels(data: Any, limits: Limits) -> list[str]:
    """The interest list as core4 reads it (stripped, lower-cased, de-duplicated; items that
    are not strings or empty are skipped), within the channel count and name length."""
    if not isinstance(data, list):
        raise FrameError(MALFORMED)
    channels: dict[str, None] = {}  # ordered set: linear de-duplication
    for item in data:
        if not isinstance(item, str):
            continue
        name = item.strip().lower()
        if not name or name in channels:
            continue
        if len(name) > limits.name:
            raise FrameError(f"channel name longer than {limits.name} characters")
        _check_text(name, "channel names")
        channels[name] = None
        if len(channels) > limits.channels:
            raise FrameError(f"too many channels, limit {limits.channels} per socket")
    return list(channels)


def chat(message: dict, interests: set[str], limits: Limits) -> tuple[str, str]:
    """``(channel, text)`` of a chat ``message`` frame that may be stored."""
    channel, text = message.get("channel"), message.get("text")
    if not isinstance(channel, str) or not isinstance(text, str) or not text:
        raise FrameError(MALFORMED)
    channel = channel.strip()
    if not channel:
        raise FrameError(MALFORMED)
    if len(channel) > limits.name:
        raise FrameError(f"channel name longer than {limits.name} characters")
    if channel.lower() == QUEUE:
        raise FrameError(f"channel [{QUEUE}] is reserved for the system's events")
    _check_text(channel, "channel names")
    if len(text) > limits.text or _size(text) > limits.text:
        raise FrameError(f"message text too large, limit {limits.text} bytes")
    _check_text(text, "message text")
    if channel not in interests and len(interests) >= limits.channels:
        raise FrameError(f"too many channels, limit {limits.channels} per socket")
    return channel, text


class ChatRate:
    """Token buckets per user: ``burst`` messages at once, refilled at ``rate`` per second.

    One per process, shared by all sockets of the process, so a user's sockets share a budget.
    """

    #: buckets kept before full (idle) ones are dropped
    PRUNE_AT = 10_000

    def __init__(self) -> None:
        self._buckets: dict[Hashable, tuple[float, float]] = {}

    def allow(self, key: Hashable, rate: float, burst: int) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.PRUNE_AT:
            self._prune(now, rate, burst)
        return allowed

    def _prune(self, now: float, rate: float, burst: int) -> None:
        self._buckets = {
            key: (tokens, last)
            for key, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * rate < burst
        }

    def check(self, key: Hashable, limits: Limits) -> None:
        if not self.allow(key, limits.rate, limits.burst):
            raise FrameError(
                f"message rate limit exceeded: {limits.rate:g} per second, burst {limits.burst}"
            )


chat_rate = ChatRate()
