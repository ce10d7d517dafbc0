"""Where a busy worker's turn goes (PostgreSQL): drain no-op jobs with a worker in this
process and time each turn (``transitions.batch``: the transaction that records starts and
ends and picks the next jobs) and each SQL statement in it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/turn.py [--pool] [--concurrency 2] [--jobs 600]

Prints the drain rate in this process, turns and statements per job, and per turn: its
time (p50 and mean), the time in SQL statements (as Django's ``execute_wrapper`` sees them,
client included) and the rest (Python, ``BEGIN``/``COMMIT``), with the statements by kind.
The middle 60 % of the drain is counted (start-up and the tail left out). Uses a fresh
database ``core4_turn``.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]
NOOP = "jobqueue.jobs.example.NoopJob"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pool", action="store_true", help="run the jobs in the warm pool")
    parser.add_argument(
        "--statements", action="store_true", help="also list each statement: per turn, time"
    )
    opts = parser.parse_args()
    if opts.jobs < 50 or opts.concurrency < 1:
        parser.error("--jobs must be at least 50 and --concurrency at least 1")
    from bench.queue import fresh_stack

    fresh_stack("core4_turn", "bench/turn.py")

    import django

    django.setup()
    from django.db import connection

    from jobqueue import services, transitions
    from jobqueue.signals import job_transition
    from jobqueue.worker import Worker

    for i in range(opts.jobs):
        services.enqueue(NOOP, turn=i)
    done: list[int] = []

    def completed(sender, event, **kwargs):
        if event == "complete_job":
            done.append(1)

    turns: list[tuple[float, float]] = []
    statements: list[tuple[float, float, str]] = []
    batch = transitions.batch

    @contextlib.contextmanager
    def timed_batch(ids):
        start = time.perf_counter()
        with batch(ids):
            yield
        turns.append((start, time.perf_counter()))

    def timed_statement(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((start, time.perf_counter(), " ".join(sql.split())))

    job_transition.connect(completed, weak=False)
    transitions.batch = timed_batch  # type: ignore[assignment]
    worker = Worker("bench-turn", opts.concurrency, pool=opts.pool)
    began = time.perf_counter()
    try:
        with connection.execute_wrapper(timed_statement):
            worker.run(until=lambda: len(done) >= opts.jobs, timeout=600)
    finally:
        transitions.batch = batch  # type: ignore[assignment]
        job_transition.disconnect(completed)
    elapsed = time.perf_counter() - began
    low, high = began + 0.2 * elapsed, began + 0.8 * elapsed
    counted = [(a, b) for a, b in turns if a >= low and b <= high]
    starts = [a for a, _ in counted]  # in order, not overlapping

    def in_a_turn(statement: tuple[float, float, str]) -> bool:
        index = bisect.bisect_right(starts, statement[0]) - 1
        return index >= 0 and statement[1] <= counted[index][1]

    inside = [statement for statement in statements if in_a_turn(statement)]
    if not counted:
        sys.exit("no turn in the middle of the drain: more --jobs")
    times = [(b - a) * 1000 for a, b in counted]
    sql = sum(b - a for a, b, _ in inside) * 1000 / len(counted)
    kinds: dict[str, int] = {}
    for _, _, text in inside:
        kind = text.split(None, 1)[0].upper()
        kinds[kind] = kinds.get(kind, 0) + 1
    share = sum(b - a for a, b in counted) / (high - low) * 100
    jobs_counted = opts.jobs * 0.6
    mode = "warm pool" if opts.pool else "a process per job"
    print(f"{opts.jobs} no-op jobs, {mode}, --concurrency {opts.concurrency}, worker in this "
          f"process: {opts.jobs / elapsed:.0f} jobs/s")  # fmt: skip
    print(f"  turns per job {len(counted) / jobs_counted:.2f}, turns take {share:.0f} % of the "
          f"worker's time")  # fmt: skip
    print(f"  per turn: p50 {statistics.median(times):.2f} ms, mean {statistics.fmean(times):.2f} "
          f"ms; in SQL statements {sql:.2f} ms, the rest (Python, BEGIN, COMMIT) "
          f"{statistics.fmean(times) - sql:.2f} ms")  # fmt: skip
    ordered = sorted(kinds.items(), key=lambda item: -item[1])
    detail = ", ".join(f"{kind} {n / len(counted):.1f}" for kind, n in ordered)
    print(f"  statements per turn (BEGIN/COMMIT not counted): "
          f"{len(inside) / len(counted):.1f} ({detail})")  # fmt: skip
    if opts.statements:
        each: dict[str, list[float]] = {}
        for a, b, text in inside:
            each.setdefault(text[:90], []).append((b - a) * 1000)
        print("  per turn   mean ms   statement (its first 90 characters)")
        for text, spent in sorted(each.items(), key=lambda item: -sum(item[1])):
            print(f"  {len(spent) / len(counted):8.2f}  {statistics.fmean(spent):8.3f}   {text}")


if __name__ == "__main__":
    main()
