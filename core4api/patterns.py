"""Regular expressions from clients, run by RE2: linear time, no pattern can hang the server.

Filters accept RE2 syntax (Python's ``re`` without backreferences and lookaround). On SQLite
the patterns run in the server process as the ``REGEXP`` function; Django's own runs Python's
backtracking ``re``, where ``^(b+)+$`` against 30 characters takes minutes, so
:func:`install_sqlite_regexp` replaces it on every new connection. PostgreSQL runs its own
engine, bounded by the listing's statement timeout (:mod:`core4api.limits`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2  # type: ignore[import-untyped]  # google-re2 ships no type information

from core4api.limitvalues import limit

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # our callers answer a 400; no C++ log lines on stderr


@lru_cache(maxsize=256)
def compile_pattern(pattern: str):
    return re2.compile(pattern, _OPTIONS)


def check_pattern(pattern: str) -> str:
    """The pattern if RE2 accepts it and it is short enough; else a 400 that says why."""
    # the API's errors, imported here: every process loads this module (SQLite's REGEXP),
    # a worker and its job processes too, which need no REST framework
    from core4api.exceptions import BadRequest
    from core4api.limits import too_big

    if len(pattern) > limit("CORE4_FILTER_MAX_REGEX"):
        raise too_big(f"regular expression of {len(pattern)} characters", "CORE4_FILTER_MAX_REGEX")
    try:
        compile_pattern(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise BadRequest(f"invalid regular expression [{pattern[:200]}]: {reason}") from exc
    except (UnicodeError, TypeError, ValueError) as exc:
        raise BadRequest(f"invalid regular expression [{pattern[:200]!r}]") from exc
    return pattern


def sqlite_regexp(pattern: Any, string: Any) -> bool | None:
    """SQLite's ``X REGEXP Y`` (Django's ``regex`` and ``iregex`` lookups), in RE2."""
    if pattern is None or string is None:
        return None
    return compile_pattern(pattern).search(str(string)) is not None


def install_sqlite_regexp(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: RE2 as ``REGEXP`` on SQLite connections."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("REGEXP", 2, sqlite_regexp, deterministic=True)
