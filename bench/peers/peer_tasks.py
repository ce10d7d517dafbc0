"""The same job body for every peer: one Redis round trip (``RPUSH`` of the job's number,
its enqueue time and its start time), defined once per queue library.

Imported by the peers' workers (``bench/peers/.venv``); core4site's copy is ``peerjobs.py``.
"""

from __future__ import annotations

import os
import time

import redis

PG = os.environ.get("PEERS_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("PEERS_REDIS", "redis://127.0.0.1:6379")
#: Redis databases 10-15 are the benchmark's (README: the project's tests use others)
DONE_DB, HUEY_DB, CELERY_DB, RQ_DB = 15, 10, 11, 12
DONE_KEY = "peers:done"
_done = None


def body(i: int, t: float) -> None:
    """The job: one round trip to Redis recording when it started."""
    global _done  # noqa: PLW0603 - one client per process
    if _done is None:
        _done = redis.Redis.from_url(f"{REDIS}/{DONE_DB}")
    _done.rpush(DONE_KEY, f"{i} {t} {time.time()}")


# --- Huey (Redis) -----------------------------------------------------------------------------
def huey_app():
    from huey import RedisHuey

    return RedisHuey("peers", url=f"{REDIS}/{HUEY_DB}", results=False)


try:
    huey = huey_app()

    @huey.task()
    def huey_work(i, t):
        body(i, t)
except ImportError:  # core4site's venv imports DONE_KEY & co. only
    huey = None

# --- Celery (Redis broker, prefork pool) ------------------------------------------------------
try:
    from celery import Celery

    celery_app = Celery("peers", broker=f"{REDIS}/{CELERY_DB}")
    celery_app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True)

    @celery_app.task(name="peers.work")
    def celery_work(i, t):
        body(i, t)
except ImportError:
    celery_app = None


# --- RQ -----------------------------------------------------------------------------------------
def rq_work(i, t):
    body(i, t)


# --- Procrastinate (PostgreSQL) -----------------------------------------------------------------
try:
    import procrastinate

    proc_app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=f"{PG}/peers_procrastinate")
    )

    @proc_app.task(name="peers.work")
    def proc_work(i, t):
        body(i, t)
except ImportError:
    proc_app = None
