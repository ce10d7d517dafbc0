"""Named limits on what one API request may cost: filter size, body size, query run time.

Every limit is a Django setting (``settings.py`` reads them from the environment; the
defaults below apply when a project does not set them) and every refusal names its
setting, so an operator who meets one knows which to raise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import OperationalError, connection, transaction
from rest_framework import status

from core4api.exceptions import BadRequest, Core4Error
from core4api.limitvalues import DEFAULTS, limit

__all__ = ["DEFAULTS", "limit"]  # re-exported: API code imports them from here

#: a filter with a regular expression, more conditions or more bytes than these is costly
COSTLY_CONDITIONS = 10
COSTLY_BYTES = 1024
#: the request attribute by which the filter backend tells the pager its filter is costly
COSTLY_ATTR = "_core4_costly_filter"
#: PostgreSQL's "query_canceled" (statement_timeout)
QUERY_CANCELED = "57014"
#: SQLite virtual machine steps between two looks at the clock
SQLITE_STEPS = 1000


class QueryTimeout(Core4Error):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


def check_body_size(request) -> None:
    """Refuse a declared body above ``CORE4_MAX_BODY_BYTES`` before anything reads it.

    A 400 (as Django's own ``DATA_UPLOAD_MAX_MEMORY_SIZE`` check, which settings tie to the
    same limit, answers bodies without a length), naming the setting.
    """
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest("invalid Content-Length") from None
    maximum = limit("CORE4_MAX_BODY_BYTES")
    if length > maximum:
        raise BadRequest(
            f"request too large: a body of {length} bytes exceeds CORE4_MAX_BODY_BYTES "
            f"({maximum} bytes)"
        )


def too_big(what: str, name: str) -> BadRequest:
    return BadRequest(f"{what}: the limit is {name} ({limit(name)})")


class _Slots:
    """A semaphore sized by a setting (re-made when a test changes the setting)."""

    def __init__(self, name: str):
        self.name = name
        self.lock = threading.Lock()
        self.size: int | None = None
        self.semaphore = threading.Semaphore(1)

    def current(self) -> tuple[int, threading.Semaphore]:
        size = int(limit(self.name) or 0)
        with self.lock:
            if size != self.size:
                self.size, self.semaphore = size, threading.Semaphore(max(size, 1))
            return size, self.semaphore


COSTLY = _Slots("CORE4_API_COSTLY_FILTERS")


@contextmanager
def costly_slot(costly: bool, seconds: float) -> Iterator[None]:
    """Costly filters take turns (``CORE4_API_COSTLY_FILTERS`` at once per process), so that
    a few of them cannot starve every other request of the server's CPU and GIL."""
    size, semaphore = COSTLY.current()
    if not costly or size <= 0:
        yield
        return
    if not semaphore.acquire(timeout=seconds if seconds > 0 else None):
        raise QueryTimeout(
            f"too many costly filters at once (CORE4_API_COSTLY_FILTERS = {size}) for "
            f"CORE4_API_QUERY_TIMEOUT ({seconds:g} s): try again or narrow the filter"
        )
    try:
        yield
    finally:
        semaphore.release()


@contextmanager
def query_budget(costly: bool = False) -> Iterator[None]:
    with costly_slot(costly, float(limit("CORE4_API_QUERY_TIMEOUT") or 0)), _timeout():
        yield


@contextmanager
def _timeout() -> Iterator[None]:
    """Run a listing's queries under ``CORE4_API_QUERY_TIMEOUT``: 503 instead of a hung thread.

    PostgreSQL: ``statement_timeout`` for this transaction only. SQLite: a progress handler
    that interrupts the statement once the time is up (the embedded default has no
    server-side timeout). A database refusing the query as too complex is a 400.
    """
    seconds = float(limit("CORE4_API_QUERY_TIMEOUT") or 0)
    if seconds <= 0:
        yield
        return
    vendor = connection.vendor
    try:
        if vendor == "postgresql":
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT current_setting('statement_timeout'),"
                        " set_config('statement_timeout', %s, true)",
                        [f"{max(1, round(seconds * 1000))}ms"],
                    )
                    previous = cursor.fetchone()[0]
                yield
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
        elif vendor == "sqlite":
            deadline = time.monotonic() + seconds
            connection.ensure_connection()
            raw = connection.connection
            raw.set_progress_handler(lambda: time.monotonic() > deadline, SQLITE_STEPS)
            try:
                yield
            finally:
                raw.set_progress_handler(None, 0)
        else:
            yield
    except OperationalError as exc:
        cause = exc.__cause__
        text = str(exc)
        if getattr(cause, "sqlstate", None) == QUERY_CANCELED or text == "interrupted":
            raise QueryTimeout(
                f"the query took longer than CORE4_API_QUERY_TIMEOUT ({seconds:g} s): "
                "narrow the filter"
            ) from exc
        if "too large" in text or "too many" in text:  # SQLite's expression depth and terms
            raise BadRequest(f"filter too complex for the database: {text[:200]}") from exc
        raise
