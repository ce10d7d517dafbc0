"""One queue library's side of the peers benchmark: enqueue N jobs one by one, or measure
pick-up latency against a running idle worker. Run by ``run.py`` with the interpreter of
that library (``bench/peers/.venv`` for the peers, the project's ``.venv`` for core4site).

    python peer.py enqueue QUEUE N      → prints {"enqueue_per_s": ...}
    python peer.py latency QUEUE SAMPLES → prints {"pickup_ms": [...]}
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

import redis
from peer_tasks import DONE_DB, DONE_KEY, REDIS

#: job numbers of the latency samples start here (distinct from the drain's 0..N-1)
LATENCY_BASE = 10_000_000


def enqueuer(queue: str):
    """``enqueue(i, t)`` for ``queue``, set up once (connections opened)."""
    if queue.startswith("core4site"):
        import django

        django.setup()
        from jobqueue import services

        return lambda i, t: services.enqueue("peerjobs.PeerJob", i=i, t=t)
    if queue == "huey":
        from peer_tasks import huey_work

        return huey_work
    if queue == "celery":
        from peer_tasks import celery_work

        return celery_work.delay
    if queue.startswith("rq-"):
        from peer_tasks import RQ_DB, rq_work
        from rq import Queue

        q = Queue("peers", connection=redis.Redis.from_url(f"{REDIS}/{RQ_DB}"))
        return lambda i, t: q.enqueue(rq_work, i, t)
    if queue == "procrastinate":
        from peer_tasks import proc_app, proc_work

        proc_app.open()
        return lambda i, t: proc_work.defer(i=i, t=t)
    if queue == "django-tasks-db":
        import django

        django.setup()
        from peer_djtasks import work

        return work.enqueue
    raise SystemExit(f"unknown queue {queue}")


def main() -> None:
    action, queue, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    enqueue = enqueuer(queue)
    if action == "enqueue":
        t0 = time.perf_counter()
        for i in range(n):
            enqueue(i, time.time())
        print(json.dumps({"enqueue_per_s": n / (time.perf_counter() - t0)}))
        return
    done = redis.Redis.from_url(f"{REDIS}/{DONE_DB}", socket_timeout=None)
    done.delete(DONE_KEY)
    samples = []
    for k in range(n):
        time.sleep(random.uniform(0.05, 0.15))  # idle worker, not in step with anything
        t = time.time()
        enqueue(LATENCY_BASE + k, t)
        item = done.blpop([DONE_KEY], timeout=30)
        if item is None:
            break
        _, enq, started = item[1].decode().split()
        samples.append((float(started) - float(enq)) * 1000)
    print(json.dumps({"pickup_ms": samples}))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
