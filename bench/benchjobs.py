"""Jobs of the queue benchmark (``bench/queue.py --job redis``): registered only when the
benchmark names this module in ``CORE4_JOB_PACKAGES``."""

from __future__ import annotations

import os

import redis  # a heavy client library, imported when the module is: once per worker

from jobqueue.job import CoreJob

_client: list[redis.Redis] = []


class RedisJob(CoreJob):
    """One Redis round trip (``INCR``), on a connection per process."""

    author = "bench"

    def execute(self, **kwargs):
        if not _client or _client[0].connection_pool.pid != os.getpid():
            _client[:] = [redis.Redis.from_url(os.environ["REDIS_URL"])]
        _client[0].incr("core4site:bench:redisjob")


class StampJob(CoreJob):
    """Returns when its ``execute`` began (``time.time()``): the pick-up trace of
    ``bench/pickup.py`` reads it from the job's result."""

    author = "bench"

    def execute(self, **kwargs):
        import time

        return time.time()
