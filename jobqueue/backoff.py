"""``error_time``: how long a failed job waits before its next attempt.

A number is core4's fixed delay in seconds. A backoff spec (an object) makes the delay grow
with every failed attempt::

    {"base": 10, "factor": 2, "max": 3600, "jitter": 0.1}

The n-th failure (``n`` = attempts used, 1 for the first) waits
``min(max, base * factor ** (n - 1))`` seconds, then spread at random by ``jitter`` (a
fraction: 0.1 = ±10 %) and capped at ``max`` again. Only ``base`` is required. Pure logic:
``validate`` checks a spec (raising ``JobInvalid`` with the field's name) and ``delay``
computes the wait, with the random source injectable for tests.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from jobqueue.errors import JobInvalid

#: the keys of a spec and their defaults (``base`` has none: it is required)
SPEC_DEFAULTS: dict[str, float | None] = {"base": None, "factor": 2, "max": 86_400, "jitter": 0}
#: upper bound of ``base`` and ``max`` (seconds) — what fits the other integer settings
MAX_SECONDS = 2**31 - 1
#: upper bound of ``factor``
MAX_FACTOR = 100


def _number(name: str, key: str, value: Any, low: float, high: float, *, low_ok: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise JobInvalid(f"[{name}.{key}] expected a number, got {value!r}")
    if value < low or (value == low and not low_ok) or value > high:
        bound = ">=" if low_ok else ">"
        raise JobInvalid(f"[{name}.{key}] expected {bound} {low} and <= {high}, got {value!r}")
    return value


def validate(name: str, value: Any) -> int | dict[str, float]:
    """A positive int (seconds) or a backoff spec, completed with its defaults."""
    if isinstance(value, dict):
        return validate_spec(name, value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobInvalid(f"[{name}] expected int or backoff spec {{base, factor, max, jitter}}, "
                         f"got {value!r}")  # fmt: skip
    if value <= 0:
        raise JobInvalid(f"[{name}] > 0 expected, got {value!r}")
    if value > MAX_SECONDS:
        raise JobInvalid(f"[{name}] out of range: {value!r}")
    return value


def validate_spec(name: str, spec: dict) -> dict[str, float]:
    unknown = sorted(str(key) for key in spec if key not in SPEC_DEFAULTS)
    if unknown:
        raise JobInvalid(
            f"[{name}] unknown backoff key [{unknown[0][:50]}]: keys are base, factor, max, jitter"
        )
    if "base" not in spec:
        raise JobInvalid(f"[{name}.base] missing: a backoff spec needs base (seconds)")
    values = {key: spec.get(key, default) for key, default in SPEC_DEFAULTS.items()}
    result = {
        "base": _number(name, "base", values["base"], 0, MAX_SECONDS, low_ok=False),
        "factor": _number(name, "factor", values["factor"], 1, MAX_FACTOR, low_ok=True),
        "max": _number(name, "max", values["max"], 0, MAX_SECONDS, low_ok=False),
        "jitter": _number(name, "jitter", values["jitter"], 0, 1, low_ok=True),
    }
    if result["base"] > result["max"]:
        raise JobInvalid(f"[{name}.base] must not exceed max ({result['max']}), "
                         f"got {result['base']}")  # fmt: skip
    return result


def delay(
    error_time: int | dict[str, float],
    attempt: int,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds before the retry after the ``attempt``-th failure (1 = the first).

    ``rand`` returns a float in [0, 1); 0.5 means no jitter.
    """
    if not isinstance(error_time, dict):
        return float(error_time)
    base, factor, cap = error_time["base"], error_time["factor"], error_time["max"]
    exponent = max(attempt, 1) - 1
    # factor ** exponent overflows long before it matters: once over the cap, stay there
    if factor > 1 and exponent * math.log(factor) > math.log(cap / base) + 1:
        seconds = float(cap)
    else:
        seconds = min(float(cap), base * factor**exponent)
    jitter = error_time.get("jitter") or 0
    if jitter:
        seconds *= 1 + jitter * (2 * rand() - 1)
    return max(min(seconds, float(cap)), 0.0)
