"""Pre-framed WebSocket messages (events.wire): the same bytes daphne/autobahn would send."""

from __future__ import annotations

import functools
import struct

import pytest

from events.wire import raw_writer, text_frame


def _parse(frame: bytes) -> tuple[int, bytes]:
    b0, b1 = frame[0], frame[1]
    assert b1 & 0x80 == 0, "server frames are not masked"
    size, offset = b1 & 0x7F, 2
    if size == 126:
        size, offset = struct.unpack("!H", frame[2:4])[0], 4
    elif size == 127:
        size, offset = struct.unpack("!Q", frame[2:10])[0], 10
    assert len(frame) == offset + size
    return b0, frame[offset:]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_text_frame_is_one_final_unmasked_text_frame(size):
    text = ("ä" * size)[: max(size // 2, 0)] + "x" * (size - max(size // 2, 0) * 2)
    frame, payload_size = text_frame(text)
    b0, payload = _parse(frame)
    assert b0 == 0x81  # FIN + text
    assert payload.decode("utf-8") == text
    assert payload_size == len(text.encode("utf-8"))


def test_anything_but_daphnes_send_is_sent_the_ordinary_way():
    async def send(message):
        pass

    assert raw_writer(send) is None
    assert raw_writer(functools.partial(send)) is None
    assert raw_writer(functools.partial(print, object())) is None
