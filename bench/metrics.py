"""What a ``/metrics`` scrape costs: idle, and folding a full batch of new queue events.

    .venv/bin/python bench/metrics.py                     # embedded default (SQLite)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/6 \
        .venv/bin/python bench/metrics.py

Builds a database of its own (``tests.support.LiveStack``: fresh, migrated), seeds
``--history`` old queue events (before the metrics cursor) and ``--jobs`` completed jobs, then
prints the median time (of ``--runs``) of

1. an idle scrape (``core4site.metrics.exposition()``: no new events since the last one);
2. a scrape that folds a full batch (``CORE4_METRICS_EVENT_BATCH``, 20,000) of new queue
   events — a third each ``enqueue_job``, ``request_start_job``, ``complete_job`` of the
   seeded jobs, so every one needs its job looked up;

and that both stay flat in the size of the history (the fold never reads it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--history", type=int, default=200_000)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core4site.settings")
    from tests.support import LiveStack, TestRedis

    tmp = Path(tempfile.mkdtemp(prefix="core4-bench-metrics-"))
    redis = TestRedis(tmp)
    stack = LiveStack(tmp, redis)
    try:
        os.environ.update(stack.env)
        if not stack.env.get("DATABASE_URL"):
            os.environ.pop("DATABASE_URL", None)
        import django

        django.setup()
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        stack.stop()
        redis.stop()


def run(args) -> None:
    from django.conf import settings
    from django.db import connection

    from core4api.ids import object_id, utcnow
    from core4site import metrics
    from events.models import Event
    from jobqueue.models import Control, Job

    now = utcnow()
    print(f"database: {connection.vendor}; seeding {args.history:,} old events, "
          f"{args.jobs:,} completed jobs …", flush=True)  # fmt: skip
    for start in range(0, args.history, 10_000):
        Event.objects.bulk_create(
            Event(name="enqueue_job", author="bench", channel="queue",
                  data={"_id": object_id(), "queue": {"pending": 1}}, total=1)
            for _ in range(start, min(args.history, start + 10_000))
        )  # fmt: skip
    ids = []
    for start in range(0, args.jobs, 5_000):
        batch = [
            Job(name=f"bench.Job{n % 20}", args={"n": n}, args_hash=f"{n:032x}", state="complete",
                journaled=True, journaled_at=now, trial=1, runtime=0.01 * (n % 1000),
                enqueued_at=now - timedelta(seconds=2), started_at=now)
            for n in range(start, min(args.jobs, start + 5_000))
        ]  # fmt: skip
        Job.objects.bulk_create(batch)
        ids += [job.pk for job in batch]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")

    def scrape() -> float:
        started = time.perf_counter()
        metrics.exposition()
        return (time.perf_counter() - started) * 1000

    Control.objects.filter(key=metrics.KEY).delete()
    scrape()  # starts the cursor after the history
    idle = statistics.median(scrape() for _ in range(args.runs))
    print(f"idle scrape: {idle:.1f} ms (median of {args.runs})")

    batch = settings.CORE4_METRICS_EVENT_BATCH
    names = ("enqueue_job", "request_start_job", "complete_job")
    folds = []
    for _ in range(args.runs):
        Event.objects.bulk_create(
            Event(name=names[n % 3], author="bench", channel="queue",
                  data={"_id": ids[(n // 3) % len(ids)], "queue": {"pending": 1}}, total=1)
            for n in range(batch)
        )  # fmt: skip
        folds.append(scrape())
    print(f"scrape folding {batch:,} new events: {statistics.median(folds):.1f} ms "
          f"(median of {args.runs}; min {min(folds):.1f}, max {max(folds):.1f})")  # fmt: skip
    totals = Control.objects.get(key=metrics.KEY).value
    print(f"folded transitions: {sum(totals['transitions'].values()):,}; "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
