"""Filter cost: the largest filters the limits allow, alone and four at a time.

    .venv/bin/python bench/filters.py                     # embedded default (SQLite)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/7 \
        .venv/bin/python bench/filters.py

Builds a product instance of its own (``tests.support.LiveStack``: fresh database, daphne),
seeds ``--jobs`` unfinished jobs and ``--events`` chat events, then prints:

1. per shape of "largest allowed filter" (each just under ``CORE4_FILTER_MAX_BYTES`` with
   lists of ``CORE4_FILTER_MAX_ITEMS``): the time to process it in-process (parse, check,
   build the query, compile its SQL) and a whole request over HTTP (median of ``--runs``);
2. a normal request's latency (``GET /job``, 10 rows) idle and while four clients send the
   costliest of those filters back to back (target: ≤ 2× idle).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

NOOP = "jobqueue.jobs.example.NoopJob"


def largest(make, limit_bytes: int) -> dict:
    """``make(n)`` for the largest ``n`` whose JSON stays within the byte limit."""
    low, high = 1, limit_bytes
    while low < high:
        mid = (low + high + 1) // 2
        if len(json.dumps(make(mid)).encode()) <= limit_bytes:
            low = mid
        else:
            high = mid - 1
    return make(low)


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def deep(depth: int) -> dict:
    doc: dict = {"args.n": 1}
    while depth > 2:  # each {"$or": [...]} is two levels
        doc, depth = {"$or": [doc]}, depth - 2
    return doc


def shapes() -> dict[str, dict]:
    """The largest filters the limits allow, one per way of spending them."""
    from core4api.limits import limit

    max_bytes = limit("CORE4_FILTER_MAX_BYTES")
    items = limit("CORE4_FILTER_MAX_ITEMS")
    conditions = limit("CORE4_FILTER_MAX_CONDITIONS")
    patterns = limit("CORE4_FILTER_MAX_PATTERNS")
    length = limit("CORE4_FILTER_MAX_REGEX")
    pattern = "|".join(f"x{i}y" for i in range(length))[:length].rstrip("|")
    json_terms = [{"args.n": i} for i in range(conditions)]
    return {
        # $in lists of numbers up to the byte limit: one IN (...) per list
        "in_lists": largest(
            lambda n: {"$or": [{"priority": {"$in": p}} for p in chunks(list(range(n)), items)]},
            max_bytes,
        ),
        # the most conditions, on keys into the JSON arguments (never grouped)
        "json_terms": {"$or": json_terms},
        # the most conditions, equality on a text column
        "text_terms": {"$or": [{"state": f"s{i}"} for i in range(conditions)]},
        # the most patterns of the longest length, the rest of the conditions on args
        "regex_terms": {
            "$or": [{"qual_name": {"$regex": pattern}} for _ in range(patterns)]
            + json_terms[: conditions - patterns]
        },
        # nested to the depth limit
        "deep": deep(limit("CORE4_FILTER_MAX_DEPTH")),
    }


def seed(jobs: int, events: int) -> None:
    from events.models import Event
    from jobqueue import services

    for n in range(jobs):
        services.enqueue(NOOP, by="admin", args={"n": n})
    Event.objects.bulk_create(
        [
            Event(name="message", author="admin", channel="message", data=f"m{n}")
            for n in range(events)
        ],
        batch_size=2000,
    )


def process_ms(doc: dict, runs: int) -> float:
    """In-process: parse, bound, build and compile the job listing's query for ``doc``."""
    from django.db import connection

    from accounts.api_permissions import access_of
    from accounts.models import User
    from core4api.filters import FilterSpec, parse_filter
    from jobqueue.api.queries import JOB_FIELDS, JOB_SEARCH, masked_queue

    access = access_of(User.objects.get(name="admin"))
    base = masked_queue(access)
    text = json.dumps(doc)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        queryset = FilterSpec(JOB_FIELDS, JOB_SEARCH).apply(base, parse_filter(text))
        queryset.query.get_compiler(connection=connection).as_sql()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def request_ms(session, url: str, body: dict, runs: int) -> tuple[float, int]:
    """POSTed (daphne refuses request lines beyond 16 KiB: large filters go in the body)."""
    times, status = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        response = session.post(url, json=body, timeout=120)
        times.append(time.perf_counter() - started)
        status = response.status_code
    return statistics.median(times) * 1000, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--samples", type=int, default=60)
    opts = parser.parse_args()

    import requests

    from bench.events import machine, open_stack

    with tempfile.TemporaryDirectory(prefix="core4-bench-filters-") as tmp:
        stack = open_stack(Path(tmp))
        try:
            from core4api.limits import limit

            print(machine(), f"load {os.getloadavg()[0]:.2f}")
            seed(opts.jobs, opts.events)
            base = stack.start_daphne()
            session = requests.Session()
            session.headers["Authorization"] = "Bearer " + stack.login()
            job_url = base + "/core4/api/v1/job"
            print(
                "limits: "
                + ", ".join(
                    f"{name[len('CORE4_FILTER_') :].lower()} {limit(name)}"
                    for name in (
                        "CORE4_FILTER_MAX_BYTES",
                        "CORE4_FILTER_MAX_ITEMS",
                        "CORE4_FILTER_MAX_DEPTH",
                        "CORE4_FILTER_MAX_CONDITIONS",
                        "CORE4_FILTER_MAX_PATTERNS",
                        "CORE4_FILTER_MAX_REGEX",
                    )
                )
                + f"; {opts.jobs} jobs, {opts.events} events"
            )
            print(f"{'shape':<12} {'bytes':>6} {'process':>9} {'request':>9} status")
            costliest, worst = None, -1.0
            for name, doc in shapes().items():
                size = len(json.dumps(doc))
                built = process_ms(doc, opts.runs)
                took, status = request_ms(session, job_url + "/queue", {"filter": doc}, opts.runs)
                print(f"{name:<12} {size:>6} {built:>6.1f} ms {took:>6.1f} ms", status)
                if took > worst:
                    costliest, worst = doc, took

            def normal() -> float:
                started = time.perf_counter()
                response = session.get(job_url, params={"per_page": 10}, timeout=120)
                assert response.status_code == 200, response.text
                return (time.perf_counter() - started) * 1000

            idle = [normal() for _ in range(opts.samples)]
            stop = threading.Event()
            counts = [0] * 4

            def hammer(slot: int) -> None:
                own = requests.Session()
                own.headers.update(session.headers)
                while not stop.is_set():
                    own.post(job_url + "/queue", json={"filter": costliest}, timeout=120)
                    counts[slot] += 1

            threads = [threading.Thread(target=hammer, args=(i,), daemon=True) for i in range(4)]
            for thread in threads:
                thread.start()
            time.sleep(1.0)
            loaded = [normal() for _ in range(opts.samples)]
            stop.set()
            for thread in threads:
                thread.join()
            ratio = statistics.median(loaded) / statistics.median(idle)
            print(
                f"normal GET /job p50 idle {statistics.median(idle):.1f} ms, with 4 costliest "
                f"filters in parallel {statistics.median(loaded):.1f} ms (×{ratio:.2f}; "
                f"p95 {sorted(idle)[int(0.95 * len(idle))]:.1f} / "
                f"{sorted(loaded)[int(0.95 * len(loaded))]:.1f} ms); "
                f"{sum(counts)} heavy requests meanwhile; load {os.getloadavg()[0]:.2f}"
            )
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
