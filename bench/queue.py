"""Queue benchmark on PostgreSQL: enqueue and drain rates, pick-up latency, transition and
summary cost at queue depth 0 and 100,000.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python bench/queue.py

Uses a fresh database ``core4_bench`` on that server (dropped and created). Every event is
persisted by the events app's ``job_transition`` receiver (one Event row per transition);
the script checks the Event count. Each job runs in its own forked process (``--pool``:
in the worker's warm pool). ``--job redis``: a job whose module imports redis-py and that
makes one Redis round trip (``bench/benchjobs.py``) instead of the no-op job.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# run as a script, this file's directory comes first on sys.path and this module would
# shadow the standard library's ``queue`` (psycopg imports it): imports below are lazy
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]
NOOP = "jobqueue.jobs.example.NoopJob"
JOBS = {"noop": NOOP, "redis": "bench.benchjobs.RedisJob"}


def database_urls(base: str, name: str) -> tuple[str, str]:
    parts = urlsplit(base)
    return (
        urlunsplit(parts._replace(path="/postgres")),
        urlunsplit(parts._replace(path="/" + name)),
    )


def fresh_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def fresh_stack(database: str, script: str) -> dict[str, str]:
    """A fresh database ``database`` on the server of ``DATABASE_URL`` (PostgreSQL), migrated;
    the environment for this process and the workers it starts (also set in ``os.environ``)."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit(f"{script} needs DATABASE_URL=postgres://… (a server to create a db on)")
    admin_url, url = database_urls(base, database)
    fresh_database(admin_url, database)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5"),
        "CORE4_WORKER_DAILY_COMMANDS": "",
        "CORE4_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "core4site.settings",
        "CORE4_JOB_PACKAGES": "jobqueue.jobs,bench.benchjobs",
    }
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    return env


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants, the ended ones reaped by them included
    (the worker, its fork server, job and pool processes)."""
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            t = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--depth", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="worker processes draining")
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--database", default="core4_bench")
    parser.add_argument("--skip-depth", action="store_true", help="drain and queries only")
    parser.add_argument("--pool", action="store_true", help="worker --pool (warm processes)")
    parser.add_argument("--job", choices=sorted(JOBS), default="noop", help="job to drain")
    opts = parser.parse_args()
    name = JOBS[opts.job]
    env = fresh_stack(opts.database, "bench/queue.py")

    import django

    django.setup()
    from django.db import connection

    from jobqueue import services, transitions
    from jobqueue.models import Job
    from jobqueue.signals import job_transition
    from jobqueue.summary import summary_rows

    try:
        from events.models import Event
    except ImportError:  # pragma: no cover - events app not there
        Event = None
    receivers = len(job_transition.receivers)
    print(f"PostgreSQL {connection.cursor().connection.info.server_version}, "
          f"{os.cpu_count()} cores, job_transition receivers: {receivers}, "
          f"events app: {'yes' if Event else 'no'}")  # fmt: skip

    # --- round trips per job --------------------------------------------------------------
    print_queries_per_job(opts.concurrency, name, opts.pool)

    # --- enqueue ------------------------------------------------------------------------------
    t0 = time.perf_counter()
    c0 = time.process_time()
    for i in range(opts.jobs):
        services.enqueue(name, n=i)
    enqueue_rate = opts.jobs / (time.perf_counter() - t0)
    cpu_us = (time.process_time() - c0) / opts.jobs * 1e6
    print(f"enqueue: {opts.jobs} jobs, {enqueue_rate:.0f} jobs/s (one transaction each; "
          f"this process's CPU {cpu_us:.0f} µs/job)")  # fmt: skip

    # --- drain ------------------------------------------------------------------------------
    events_before = Event.objects.count() if Event else 0

    def cmd(n: int) -> list[str]:
        return [sys.executable, "manage.py", "worker", f"bench-{n + 1}", "--concurrency",
                str(opts.concurrency), *(["--pool"] if opts.pool else [])]  # fmt: skip

    mode = "in the warm pool" if opts.pool else "each job in its own process"
    services.pause()  # the worker's start-up CPU is not counted: resumed once it runs
    workers = [
        subprocess.Popen(cmd(n), cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        for n in range(opts.workers)
    ]
    try:
        from jobqueue.models import WorkerRecord

        names = [f"bench-{n + 1}" for n in range(opts.workers)]
        while WorkerRecord.objects.alive().filter(pk__in=names).count() < opts.workers:
            time.sleep(0.1)
        time.sleep(1.0)
        cpu0 = sum(tree_cpu(w.pid) for w in workers)
        services.resume()
        while Job.objects.filter(journaled=False).exists():
            time.sleep(0.2)
        cpu = (sum(tree_cpu(w.pid) for w in workers) - cpu0) / opts.jobs * 1000
        first, last = (
            Job.objects.filter(name=name, args__has_key="n")
            .order_by("started_at")
            .values("started_at")[0],
            Job.objects.filter(name=name, args__has_key="n")
            .order_by("-finished_at")
            .values("finished_at")[0],
        )
        first, last = first["started_at"], last["finished_at"]
        drain = opts.jobs / (last - first).total_seconds()
        complete = Job.objects.filter(name=name, args__has_key="n", state="complete").count()
        stored = (Event.objects.count() - events_before) if Event else 0
        print(f"drain: {complete}/{opts.jobs} complete, {drain:.0f} jobs/s with "
              f"{opts.workers} worker(s) --concurrency {opts.concurrency}, {opts.job} job, {mode}; "
              f"events stored during drain: {stored} (expected {3 * opts.jobs}); "
              f"CPU of worker + fork server + job processes: {cpu:.1f} ms/job; "
              f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip

        # --- latency -----------------------------------------------------------------------
        time.sleep(1.5)
        samples = []
        for i in range(opts.latency_samples):
            job = services.enqueue(name, latency=i)
            while True:
                started = Job.objects.filter(pk=job.id).values_list("started_at", flat=True)[0]
                if started:
                    break
                time.sleep(0.002)
            samples.append((started - job.enqueued_at).total_seconds() * 1000)
            time.sleep(0.03)
        print(f"idle enqueue→start latency: p50 {pct(samples, 0.5):.1f} ms, "
              f"p95 {pct(samples, 0.95):.1f} ms ({len(samples)} samples)")  # fmt: skip
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(30)

    # --- bulk enqueue (not drained) -------------------------------------------------------------
    for size in (100, opts.jobs):
        items = [{"qual_name": NOOP, "args": {"bulk": i, "size": size}} for i in range(size)]
        t0 = time.perf_counter()
        created = services.enqueue_many(items)
        rate = size / (time.perf_counter() - t0)
        print(f"enqueue_many: {sum(1 for j in created if j)} jobs in one transaction, "
              f"{rate:.0f} jobs/s")  # fmt: skip
    Job.objects.filter(args__has_key="bulk").delete()
    transitions.recount()

    if opts.skip_depth:
        return

    # --- transition cost vs depth -------------------------------------------------------------
    def cycle(tag: str, n: int = 300) -> dict[str, float]:
        costs = {"enqueue": [], "pick": [], "start": [], "complete": [], "summary": []}
        for i in range(n):
            t = time.perf_counter()
            job = services.enqueue(NOOP, priority=1000, tag=tag, i=i)
            costs["enqueue"].append(time.perf_counter() - t)
            t = time.perf_counter()
            picked = transitions.pick("bench-x")
            costs["pick"].append(time.perf_counter() - t)
            assert picked.id == job.id
            t = time.perf_counter()
            transitions.start(job.id, "bench-x", os.getpid())
            costs["start"].append(time.perf_counter() - t)
            t = time.perf_counter()
            transitions.complete(job.id, "bench-x")
            costs["complete"].append(time.perf_counter() - t)
        for _ in range(20):
            t = time.perf_counter()
            summary_rows()
            costs["summary"].append(time.perf_counter() - t)
        return {k: statistics.median(v) * 1000 for k, v in costs.items()}

    shallow = cycle("shallow")
    from core4api.ids import object_id
    from jobqueue.transitions import args_hash

    batch = []
    names = [f"{NOOP}", "jobqueue.jobs.example.DummyJob", "jobqueue.jobs.example.ErrorJob"]
    for i in range(opts.depth):
        args = {"filler": i}
        batch.append(Job(id=object_id(), name=names[i % 3], args=args, args_hash=args_hash(args),
                         state=("pending", "deferred", "failed")[i % 3]))  # fmt: skip
        if len(batch) == 5000:
            Job.objects.bulk_create(batch)
            batch = []
    Job.objects.bulk_create(batch)
    transitions.recount()
    # first with the statistics as the burst left them (autovacuum's ANALYZE comes later):
    # the planner's estimates are those of a near-empty table
    stale = cycle("stale", n=100)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_autoanalyze FROM pg_stat_user_tables WHERE relname = 'queue_job'"
        )
        analyzed = cursor.fetchone()[0]
        cursor.execute("VACUUM ANALYZE queue_job")
    deep = cycle("deep")
    print(f"per-transition cost (median ms) at 0 / {opts.depth:,} unfinished jobs, stale "
          f"statistics (autoanalyze: {analyzed or 'not yet'}) / after VACUUM ANALYZE:")  # fmt: skip
    for key in ("enqueue", "pick", "start", "complete"):
        print(f"  {key:9s} {shallow[key]:6.2f} / {stale[key]:6.2f} / {deep[key]:6.2f}")
    print(f"summary_rows(): {shallow['summary']:.2f} ms at 0, {deep['summary']:.2f} ms at "
          f"{opts.depth:,} unfinished jobs ({len(summary_rows())} rows)")  # fmt: skip
    print(f"counts now: {transitions.counts()}")
    print_plans()


def print_queries_per_job(concurrency: int, name: str, pool: bool, jobs: int = 100) -> None:
    """SQL statements (round trips, BEGIN/COMMIT included) per transition and per job."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jobqueue import services, transitions
    from jobqueue.models import Job
    from jobqueue.signals import job_transition
    from jobqueue.worker import Worker

    with CaptureQueriesContext(connection) as queries:
        marks = [0]
        job = services.enqueue(NOOP, queries="cycle")
        marks.append(len(queries))
        assert transitions.pick("bench-q").id == job.id
        marks.append(len(queries))
        transitions.start(job.id, "bench-q", os.getpid())
        marks.append(len(queries))
        transitions.complete(job.id, "bench-q")
        marks.append(len(queries))
    steps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    # BEGIN and COMMIT included (PostgreSQL's enqueue: BEGIN, one statement, COMMIT)
    print("statements per transition (in process, BEGIN/COMMIT included): enqueue {}, pick {}, "
          "start {}, complete {}".format(*steps))  # fmt: skip

    # the worker's own statements while it drains `jobs` no-op jobs (housekeeping included)
    for i in range(jobs):
        services.enqueue(name, queries=i)
    done = []

    def completed(sender, event, **kwargs):
        if event == "complete_job":
            done.append(1)

    job_transition.connect(completed, weak=False)
    worker = Worker("bench-q", concurrency, **({"pool": True} if pool else {}))
    cpu = time.process_time()
    try:
        with CaptureQueriesContext(connection) as queries:
            worker.run(until=lambda: len(done) >= jobs, timeout=300)
        cpu = (time.process_time() - cpu) / jobs * 1000
    finally:
        job_transition.disconnect(completed)
    kinds: dict[str, int] = {}
    for query in queries.captured_queries:
        word = query["sql"].lstrip().split(None, 1)[0].upper()
        kinds[word] = kinds.get(word, 0) + 1
    detail = ", ".join(f"{k} {v / jobs:.1f}" for k, v in sorted(kinds.items(), key=lambda i: -i[1]))
    print(f"worker statements per job ({jobs} jobs, --concurrency {concurrency}, in process, "
          f"housekeeping included): {len(queries) / jobs:.1f} ({detail}); "
          f"worker CPU {cpu:.1f} ms/job (start-up included)")  # fmt: skip
    assert not Job.objects.filter(journaled=False).exists()


def print_plans() -> None:
    """EXPLAIN ANALYZE of the statements whose cost must not grow with the queue: the
    summary query, and every statement of a pick (run and rolled back)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from jobqueue import transitions
    from jobqueue.summary import summary_rows

    class Rollback(Exception):
        pass

    def explain(title: str, sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
            lines = [row[0] for row in cursor.fetchall()]
        print(f"plan: {title}")
        for line in lines:
            print("    " + line)

    with CaptureQueriesContext(connection) as queries:
        summary_rows()
    explain("summary_rows()", queries.captured_queries[-1]["sql"])
    with CaptureQueriesContext(connection) as queries:
        try:
            with transaction.atomic():
                transitions.pick("bench-plan")
                raise Rollback
        except Rollback:
            pass
    statements = [
        q["sql"] for q in queries.captured_queries
        if q["sql"].lstrip().split(None, 1)[0].upper() in {"SELECT", "UPDATE", "WITH"}
    ]  # fmt: skip
    try:
        with transaction.atomic():
            for sql in statements:
                explain("pick: " + " ".join(sql.split())[:90] + " …", sql)
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main()
