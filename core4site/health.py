"""``/health/live`` and ``/health/ready``: for load balancers and orchestrators.

* ``GET /health/live`` — 200 when the process answers (no I/O at all).
* ``GET /health/ready`` — 200 when it can do its work, else 503; one entry per check:
  ``database`` (a ``SELECT 1``), ``channel_layer`` (a round trip to the layer's Redis) and
  ``worker`` (at least one worker whose newest heartbeat is at most
  ``CORE4_HEALTH_HEARTBEAT_MAX`` seconds old and that is not stopped).

No authentication and nothing secret in the reply (no addresses, no exception texts beyond
their type). Each check has ``CORE4_HEALTH_TIMEOUT`` seconds; the checks run at once, the
database ones in a small thread pool of their own (never on the event loop), so a hung
database cannot hang the probe nor pile up threads: a check still running when the next
probe comes waits for a free thread and is reported as failed again.
Plain views rather than django-health-check: three checks, each with a timeout of its own
and off the event loop, are shorter written than configured.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from channels.layers import get_channel_layer  # type: ignore[import-untyped]
from django.conf import settings
from django.db import connection
from django.http import HttpResponse

from core4api.ids import isoformat, utcnow
from core4api.renderers import dumps, envelope
from jobqueue.models import WorkerRecord

#: Threads for the database checks; a check that hangs keeps one busy until it returns.
_POOL = ThreadPoolExecutor(4, thread_name_prefix="health")
_HEALTH_GROUP = "core4.health"


def _reply(status: int, data: dict) -> HttpResponse:
    body = envelope(status, data=data, **({"error": "not ready"} if status != 200 else {}))
    response = HttpResponse(dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def _in_thread(func):
    def run():
        try:
            return func()
        finally:
            connection.close()  # this pool thread's own connection

    return run


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {}


def _worker() -> dict:
    oldest = utcnow() - timedelta(seconds=settings.CORE4_HEALTH_HEARTBEAT_MAX)
    newest = (
        WorkerRecord.objects.filter(stopped=None)
        .order_by("-heartbeat")
        .values_list("heartbeat", flat=True)
        .first()
    )
    fresh = WorkerRecord.objects.filter(stopped=None, heartbeat__gte=oldest).count()
    detail = {"alive": fresh, "newest_heartbeat": isoformat(newest) if newest else None}
    if not fresh:
        raise _NotReady(
            f"no worker heartbeat in the last {settings.CORE4_HEALTH_HEARTBEAT_MAX:g} s", detail
        )
    return detail


async def _channel_layer() -> dict:
    layer = get_channel_layer()
    if layer is None:
        raise _NotReady("no channel layer configured", {})
    # a message to an empty group: one round trip to the layer's Redis, nobody receives it
    await layer.group_send(_HEALTH_GROUP, {"type": "health.ping"})
    return {}


class _NotReady(Exception):
    def __init__(self, reason: str, detail: dict):
        super().__init__(reason)
        self.detail = detail


async def _check(name: str, coroutine) -> tuple[str, dict]:
    started = time.monotonic()
    timeout = settings.CORE4_HEALTH_TIMEOUT
    try:
        detail = await asyncio.wait_for(coroutine, timeout)
        result = {"status": "ok", **detail}
    except TimeoutError:
        result = {"status": "fail", "reason": f"no answer within {timeout:g} s"}
    except _NotReady as exc:
        result = {"status": "fail", "reason": str(exc), **exc.detail}
    except Exception as exc:  # noqa: BLE001 - any failure is "not ready"; type only, no secrets
        result = {"status": "fail", "reason": type(exc).__name__}
    result["seconds"] = round(time.monotonic() - started, 4)
    return name, result


async def live(request) -> HttpResponse:
    return _reply(200, {"status": "ok"})


async def ready(request) -> HttpResponse:
    loop = asyncio.get_running_loop()
    checks = await asyncio.gather(
        _check("database", loop.run_in_executor(_POOL, _in_thread(_database))),
        _check("channel_layer", _channel_layer()),
        _check("worker", loop.run_in_executor(_POOL, _in_thread(_worker))),
    )
    results = dict(checks)
    ok = all(result["status"] == "ok" for result in results.values())
    return _reply(200 if ok else 503, {"status": "ok" if ok else "fail", "checks": results})
