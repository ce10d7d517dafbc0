"""A job's result: what ``execute()`` returns, checked in the job process before it is sent.

The value must be JSON (dicts with string keys, lists, strings, numbers, booleans, None; no
NaN or infinity, no NUL characters or lone surrogates — what both databases store) and at
most ``CORE4_RESULT_MAX`` bytes encoded. ``check`` raises :class:`ResultError` otherwise:
the job fails with that message (and is retried while it has attempts left, like any
failure). ``None`` — also what a job without ``return`` gives — is no result.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from core4api.text import text_error

#: the default of ``CORE4_RESULT_MAX`` (bytes)
DEFAULT_MAX = 65_536


class ResultError(ValueError):
    """The value ``execute`` returned cannot be stored as the job's result."""


def limit() -> int:
    return int(getattr(settings, "CORE4_RESULT_MAX", DEFAULT_MAX))


def check(value: Any, max_bytes: int | None = None) -> Any:
    """``value`` if it can be stored as a result, else ResultError. Costs one encoding (the
    text is scanned for NUL escapes; only a hit walks the value to be sure)."""
    if value is None:
        return None
    max_bytes = limit() if max_bytes is None else max_bytes
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except RecursionError:
        raise ResultError("result nested too deeply") from None
    except (TypeError, ValueError) as exc:
        raise ResultError(f"result is not JSON-serialisable: {exc}") from None
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ResultError("invalid text in result: lone surrogate") from None
    if size > max_bytes:
        raise ResultError(f"result of {size} bytes exceeds CORE4_RESULT_MAX ({max_bytes} bytes)")
    if "\\u0000" in text:  # a NUL, or text that looks like its escape: look closely
        try:
            _check_strings(value)
        except RecursionError:
            raise ResultError("result nested too deeply") from None
    return value


def _check_strings(value: Any) -> None:
    if isinstance(value, str):
        error = text_error(value, "result")
        if error:
            raise ResultError(error)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_strings(item)
