"""Job control figures (issue #12 items 5-7): the cost of checking a result in the job
process, and how late a job over its ``timeout`` is killed by a real worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/4 \
        .venv/bin/python bench/jobctl.py

Uses a fresh database ``core4_bench_jobctl`` on that server (dropped and created). The
timeout run: ``--jobs`` DummyJobs (``sleep=30``, ``timeout=1``, one attempt) on one worker
process (``--concurrency`` = ``--jobs``, default tick 1 s); the lateness is ``finished_at -
(started_at + timeout)`` as the worker recorded it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]
from bench.queue import database_urls, fresh_database, pct  # noqa: E402


def result_cost(repeat: int) -> None:
    from jobqueue.results import check

    for size in (1_024, 16_384, 65_000):
        rows = []
        while len(str(rows)) < size:
            rows.append({"id": len(rows), "name": f"row {len(rows)}", "ok": True, "v": 1.5})
        check(rows)  # warm up
        started = time.perf_counter()
        for _ in range(repeat):
            check(rows)
        per_call = (time.perf_counter() - started) / repeat * 1000
        print(f"results.check: ~{size:>6} bytes, {len(rows):>5} rows: {per_call:.3f} ms per call")


def timeout_lateness(jobs: int, env: dict) -> None:
    from jobqueue import services
    from jobqueue.models import Job

    ids = [
        services.enqueue("jobqueue.jobs.example.DummyJob", sleep=30, n=n, timeout=1).id
        for n in range(jobs)
    ]
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker", "bench-jobctl", "--concurrency", str(jobs)],
        cwd=ROOT, env={**env, "CORE4_WORKER_GRACE": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while Job.objects.filter(pk__in=ids, state="error").count() < jobs:
            if time.monotonic() > deadline:
                sys.exit("the jobs did not time out within 120 s")
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(60)
    late = []
    for job in Job.objects.filter(pk__in=ids):
        assert job.last_error["exception"] == "timeout after 1 s", job.last_error
        late.append((job.finished_at - job.started_at).total_seconds() - job.timeout)
    print(
        f"timeout=1 s, {jobs} jobs: killed and settled after the timeout by "
        f"min {min(late):.2f} / median {statistics.median(late):.2f} / "
        f"p90 {pct(late, 0.9):.2f} / max {max(late):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--database", default="core4_bench_jobctl")
    opts = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/jobctl.py needs DATABASE_URL=postgres://… (a server to create a db on)")
    admin_url, url = database_urls(base, opts.database)
    fresh_database(admin_url, opts.database)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/4"),
        "CORE4_WORKER_DAILY_COMMANDS": "",
        "CORE4_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "core4site.settings",
    }
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    import django

    django.setup()
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.2f}")
    result_cost(opts.repeat)
    timeout_lateness(opts.jobs, env)
    print(f"load average (1 min) at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
