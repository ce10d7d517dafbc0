"""Scheduler benchmark: 1,000 enabled runtime schedules due every minute — the cost of a
scheduler step (idle, and the step that fires them all) and the lag from each schedule's due
time to its ``enqueue_job`` event.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/7 \
        .venv/bin/python bench/schedules.py          # PostgreSQL (database core4_bench_sched)
    env -u DATABASE_URL -u REDIS_URL .venv/bin/python bench/schedules.py   # embedded default

PostgreSQL: a fresh database ``core4_bench_sched`` on that server (dropped and created).
Embedded default: a SQLite file in a temporary ``CORE4_VAR_DIR``. The scheduler runs as the
workers run it — the leased ``scheduler`` duty in a ``Duties`` loop that sleeps until the
next duty is due — so the figures include the lease, the bookmark and the wake-up. Each
round makes all schedules due 2 s ahead (as at a minute boundary), waits until every one has
fired, then clears the jobs for the next round. Every enqueue writes its ``Event`` row (the
events app's receiver); the lag is ``Event.created - Schedule due time``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]
NOOP = "jobqueue.jobs.example.NoopJob"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def setup(database: str) -> str:
    base = os.environ.get("DATABASE_URL", "")
    env = {"CORE4_WORKER_DAILY_COMMANDS": "", "CORE4_LOG_LEVEL": "WARNING",
           "DJANGO_SETTINGS_MODULE": "core4site.settings"}  # fmt: skip
    if base.startswith(("postgres://", "postgresql://")):
        import psycopg

        parts = urlsplit(base)
        admin = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{database}"')
        env["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + database))
        backend = "PostgreSQL"
    else:
        env["CORE4_VAR_DIR"] = tempfile.mkdtemp(prefix="core4-bench-sched-")
        backend = "SQLite (embedded default)"
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    return backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle-steps", type=int, default=200)
    parser.add_argument("--database", default="core4_bench_sched")
    opts = parser.parse_args()
    backend = setup(opts.database)
    # no server runs: events are stored (what is measured), their wake-ups go nowhere
    logging.getLogger("events.outbox").setLevel(logging.ERROR)

    from django.db import connection

    from core4api.ids import utcnow
    from events.models import Event
    from jobqueue import transitions
    from jobqueue.duties import Duties, Scheduler
    from jobqueue.models import Job, Schedule
    from jobqueue.scheduling import Scheduler as Engine

    print(f"{backend}; {opts.schedules} runtime schedules '* * * * *' of {NOOP}, args n=i")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    far = utcnow() + timedelta(hours=1)
    Schedule.objects.bulk_create(
        [
            Schedule(name=NOOP, args={"n": n}, cron="* * * * *", next_run=far)
            for n in range(opts.schedules)
        ]  # fmt: skip
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    # --- idle steps: nothing due (59 of every 60 steps of a minute schedule) -----------------
    engine = Engine("bench")
    engine.step()  # first step: class sync
    idle = []
    for _ in range(opts.idle_steps):
        started = time.perf_counter()
        engine.step()
        idle.append((time.perf_counter() - started) * 1000)
    print(
        f"idle step (nothing due): p50 {statistics.median(idle):.2f} ms, "
        f"p99 {pct(idle, 0.99):.2f} ms, max {max(idle):.2f} ms ({opts.idle_steps} steps)"
    )

    # --- firing rounds, as the worker's duty runs them ----------------------------------------
    duty = Scheduler("bench")
    duties = Duties("bench", [duty])
    for round_no in range(1, opts.rounds + 1):
        Job.objects.all().delete()
        transitions.recount()
        due = utcnow().replace(microsecond=0) + timedelta(seconds=2)
        Schedule.objects.update(next_run=due, last_run=None, last_outcome="")
        first_event = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
        steps: list[float] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = duty.runs
            started = time.perf_counter()
            duties.run_due()
            if duty.runs > runs:
                steps.append((time.perf_counter() - started) * 1000)
            if Schedule.objects.filter(last_outcome="enqueued").count() >= opts.schedules:
                break
            time.sleep(max(0.0, duties.next_at() - time.monotonic()))
        created = list(
            Event.objects.filter(id__gt=first_event, name="enqueue_job").values_list(
                "created", flat=True
            )
        )
        lags = [(at - due).total_seconds() * 1000 for at in created]
        firing = max(steps)
        print(
            f"round {round_no}: {len(created)} enqueue_job events; firing step {firing:.0f} ms "
            f"({firing / max(len(created), 1):.2f} ms per enqueue); lag due → event "
            f"p50 {statistics.median(lags):.0f} ms, p99 {pct(lags, 0.99):.0f} ms, "
            f"max {max(lags):.0f} ms; load {os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    main()
