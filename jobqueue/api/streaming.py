"""Server-sent events that follow one job (core4's ``follow``).

Wire format as core4: ``event: <type>\\ndata: <compact JSON>\\n\\n`` with the types

* ``state`` — the job document (as ``GET /job/<id>`` shows it), on every change;
* ``log`` — one line of the job's captured output (``presenters.log_item``);
* ``close`` — once, last: ``{"state": n, "log": n, "reason": "final"|"gone"|"timeout"}``.

The stream is an async generator served by Django under ASGI (daphne): it polls the job row
every ``CORE4_JOB_FOLLOW_POLL`` seconds (reading only the new tail of the captured output),
ends when the job is final (complete, killed, inactive, error, or taken out of the queue),
after ``CORE4_JOB_FOLLOW_MAX`` seconds at the latest, when the client disconnects
(Django cancels the generator), or — checked every ``GUARD_INTERVAL`` seconds — when the
user may no longer read the job (deleted, deactivated, session revoked, permission removed:
``reason`` ``revoked``). A comment line every ``CORE4_JOB_FOLLOW_KEEPALIVE`` seconds
of silence keeps proxies from cutting an idle stream and finds dead clients.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models.functions import Length, Substr
from django.http import StreamingHttpResponse

from core4api.renderers import Core4JSONEncoder
from jobqueue.api.presenters import is_final, job_document, log_item, state_snapshot
from jobqueue.models import Job

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/event-stream"


def sse(event: str, data: Any) -> bytes:
    payload = json.dumps(data, cls=Core4JSONEncoder, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n".encode()


#: How much of the output's start identifies it (a retry replaces the output).
HEAD = 200
#: How often (s) a stream re-checks that its user may still read the job (a right
#: taken away reaches every stream within 2 s).
GUARD_INTERVAL = 1.0


def _poll(job_id: str, offset: int) -> tuple[Job | None, str, str, int]:
    """The job (without its output), the output's head, its tail from ``offset`` on and its
    length — one query, never the whole output again."""
    job = (
        Job.objects.filter(pk=job_id)
        .defer("stdout")
        .annotate(
            head=Substr("stdout", 1, HEAD),
            tail=Substr("stdout", offset + 1),
            length=Length("stdout"),
        )
        .first()
    )
    if job is None:
        return None, "", "", 0
    return job, job.head or "", job.tail or "", job.length or 0


async def follow_job(
    job_id: str,
    *,
    states: bool = True,
    logs: bool = True,
    guard: Callable[[str], bool] | None = None,
) -> AsyncIterator[bytes]:
    """Yield the SSE frames of job ``job_id`` until it is final (read access checked before;
    while streaming by ``guard(job_name)``, a blocking check, if given)."""
    poll = settings.CORE4_JOB_FOLLOW_POLL
    keepalive = settings.CORE4_JOB_FOLLOW_KEEPALIVE
    deadline = time.monotonic() + settings.CORE4_JOB_FOLLOW_MAX
    counts = {kind: 0 for kind, wanted in (("state", states), ("log", logs)) if wanted}
    offset = lineno = 0
    seen_head = ""
    last_state = None
    last_sent = last_guard = time.monotonic()
    reason = "timeout"
    try:
        while True:
            job, head, tail, length = await sync_to_async(_poll)(job_id, offset)
            if job is None:
                reason = "gone"
                break
            if offset and (length < offset or head[: len(seen_head)] != seen_head):
                # the output was replaced (the next attempt's run): follow it from its start
                offset = 0
                job, head, tail, length = await sync_to_async(_poll)(job_id, offset)
                if job is None:
                    reason = "gone"
                    break
            if guard is not None and time.monotonic() - last_guard >= GUARD_INTERVAL:
                last_guard = time.monotonic()
                if not await sync_to_async(guard)(job.name):
                    reason = "revoked"
                    break
            final = is_final(job)
            frames = []
            if logs and tail:
                # while the job runs only complete lines; at the end whatever is left
                ready = tail if final else tail[: tail.rfind("\n") + 1]
                offset += len(ready)
                seen_head = head[:offset]
                for line in ready.splitlines():
                    frames.append(sse("log", log_item(job, lineno, line)))
                    lineno += 1
                    counts["log"] += 1
            if states:
                document = job_document(job, readable=True, result=True)
                snapshot = state_snapshot(document)
                if snapshot != last_state:
                    last_state = snapshot
                    frames.append(sse("state", document))
                    counts["state"] += 1
            now = time.monotonic()
            if frames:
                last_sent = now
                yield b"".join(frames)
            elif now - last_sent >= keepalive:
                last_sent = now
                yield b": keepalive\n\n"
            if final:
                reason = "final"
                break
            if now >= deadline:
                break
            await asyncio.sleep(poll)
    except asyncio.CancelledError:
        log.info("follow of job [%s] ended: client disconnected", job_id)
        raise
    log.info("follow of job [%s] ended: %s", job_id, reason)
    yield sse("close", {**counts, "reason": reason})


def event_stream(stream: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
