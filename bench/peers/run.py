"""Peers benchmark: core4site against Huey, Celery, Procrastinate, RQ and django-tasks-db,
interleaved, with the same job body (one Redis round trip, ``peer_tasks.body``).

    bench/peers/setup.sh                     # once: bench/peers/.venv with the pinned peers
    .venv/bin/python bench/peers/run.py      # --jobs 2000 --reps 3 --samples 40 [--queues ...]

Per repetition and queue (queues in a new random order each repetition): clear the queue,
enqueue N distinct jobs one by one (enqueue/s), start a fresh worker host at concurrency 2,
wait until all N ran (drain/s = (N - 1) / (last start - first start)), then with the worker
idle enqueue SAMPLES single jobs at random gaps and time enqueue → job start (pick-up),
then stop the worker (SIGTERM to its process group; SIGKILL after 15 s). Prints one table:
medians over the repetitions, [min–max] ranges. Redis databases 10–15, PostgreSQL databases
``peers_core4``, ``peers_procrastinate`` and ``peers_djtasks`` (dropped and created).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PEERS_PY = HERE / ".venv" / "bin"
PROJECT_PY = Path(sys.executable)
PG = os.environ.get("PEERS_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("PEERS_REDIS", "redis://127.0.0.1:6379")
sys.path.insert(0, str(HERE))
from peer_tasks import CELERY_DB, DONE_DB, DONE_KEY, HUEY_DB, RQ_DB  # noqa: E402

CORE4_REDIS_DB = 13
#: queue → (model described in the table, databases to reset)
QUEUES = {
    "core4site": "PostgreSQL, LISTEN/NOTIFY; worker forks a process per job (fork server)",
    "core4site-pool": "same, worker --pool: jobs in 2 reused pool processes",
    "huey": "Redis; consumer with 2 worker processes (-k process)",
    "celery": "Redis broker; prefork pool of 2",
    "procrastinate": "PostgreSQL, LISTEN/NOTIFY; one asyncio worker, concurrency 2 "
    "(sync job in a thread)",
    "rq-simple": "Redis; worker-pool of 2 SimpleWorkers (job in the worker process)",
    "rq-fork": "Redis; worker-pool of 2 Workers (fork per job)",
    "django-tasks-db": "PostgreSQL, polling (--interval 1 s, default); 2 db_worker processes",
}


def env_for(queue: str) -> dict[str, str]:
    env = {**os.environ, "PEERS_PG": PG, "PEERS_REDIS": REDIS, "PYTHONPATH": str(HERE)}
    if queue.startswith("core4site"):
        env.update(
            PYTHONPATH=f"{ROOT}:{HERE}",
            DJANGO_SETTINGS_MODULE="core4site.settings",
            DATABASE_URL=f"{PG}/peers_core4",
            REDIS_URL=f"{REDIS}/{CORE4_REDIS_DB}",
            CORE4_JOB_PACKAGES="jobqueue.jobs,peerjobs",
            CORE4_WORKER_DAILY_COMMANDS="",
            CORE4_LOG_LEVEL="WARNING",
        )
    if queue == "django-tasks-db":
        env["DJANGO_SETTINGS_MODULE"] = "peer_djsettings"
    return env


def python_for(queue: str) -> str:
    return str(PROJECT_PY if queue.startswith("core4site") else PEERS_PY / "python")


def sql(db: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/{db}", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def redis_db(n: int):
    import redis

    return redis.Redis.from_url(f"{REDIS}/{n}")


def prepare() -> None:
    """Fresh databases and schemas (once per run)."""
    for db in ("peers_core4", "peers_procrastinate", "peers_djtasks"):
        sql("postgres", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', f'CREATE DATABASE "{db}"')
    for queue, cwd, cmd in (
        ("core4site", ROOT, [python_for("core4site"), "manage.py", "migrate", "-v0"]),
        ("procrastinate", HERE, [str(PEERS_PY / "procrastinate"), "--app=peer_tasks.proc_app",
                                 "schema", "--apply"]),
        ("django-tasks-db", HERE, [python_for("django-tasks-db"), "-m", "django", "migrate",
                                   "-v0"]),
    ):  # fmt: skip
        subprocess.run(cmd, cwd=cwd, env=env_for(queue), check=True, stdout=subprocess.DEVNULL)


def clear(queue: str) -> None:
    redis_db(DONE_DB).delete(DONE_KEY)
    if queue.startswith("core4site"):
        sql("peers_core4", "TRUNCATE queue_job, events_event", "UPDATE queue_queuecount SET n = 0")
    elif queue == "huey":
        redis_db(HUEY_DB).flushdb()
    elif queue == "celery":
        redis_db(CELERY_DB).flushdb()
    elif queue.startswith("rq-"):
        redis_db(RQ_DB).flushdb()
    elif queue == "procrastinate":
        sql("peers_procrastinate", "TRUNCATE procrastinate_jobs CASCADE")
    elif queue == "django-tasks-db":
        sql("peers_djtasks", "TRUNCATE django_tasks_database_dbtaskresult")


def worker_commands(queue: str, rep: int) -> list[list[str]]:
    bin_ = PEERS_PY
    if queue.startswith("core4site"):
        pool = ["--pool"] if queue == "core4site-pool" else []
        return [[python_for(queue), "manage.py", "worker", f"peers-{rep}", "--concurrency", "2",
                 *pool]]  # fmt: skip
    if queue == "huey":
        return [[str(bin_ / "huey_consumer"), "peer_tasks.huey", "-w", "2", "-k", "process", "-q"]]
    if queue == "celery":
        return [[str(bin_ / "celery"), "-A", "peer_tasks:celery_app", "worker", "-c", "2",
                 "-P", "prefork", "-l", "WARNING", "--without-gossip", "--without-mingle",
                 "--without-heartbeat"]]  # fmt: skip
    if queue.startswith("rq-"):
        cls = "rq.worker.SimpleWorker" if queue == "rq-simple" else "rq.worker.Worker"
        return [[str(bin_ / "rq"), "worker-pool", "-u", f"{REDIS}/{RQ_DB}", "-n", "2", "-w",
                 cls, "-q", "peers"]]  # fmt: skip
    if queue == "procrastinate":
        return [[str(bin_ / "procrastinate"), "--app=peer_tasks.proc_app", "worker",
                 "--concurrency", "2"]]  # fmt: skip
    if queue == "django-tasks-db":
        return [[python_for(queue), "-m", "django", "db_worker", "--no-startup-delay",
                 "--worker-id", f"peers-{rep}-{n}"] for n in range(2)]  # fmt: skip
    raise ValueError(queue)


def start_workers(queue: str, rep: int) -> list[subprocess.Popen]:
    cwd = ROOT if queue.startswith("core4site") else HERE
    return [
        subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env_for(queue),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for cmd in worker_commands(queue, rep)
    ]


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(deadline - time.monotonic(), 0.1))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group: job processes too
        proc.wait()


def peer(queue: str, action: str, n: int) -> dict:
    out = subprocess.run([python_for(queue), str(HERE / "peer.py"), action, queue, str(n)],
                         cwd=ROOT if queue.startswith("core4site") else HERE, env=env_for(queue),
                         check=True, capture_output=True, text=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def one(queue: str, rep: int, jobs: int, samples: int, timeout: float) -> dict:
    clear(queue)
    enqueue = peer(queue, "enqueue", jobs)["enqueue_per_s"]
    done = redis_db(DONE_DB)
    procs = start_workers(queue, rep)
    try:
        deadline = time.monotonic() + timeout
        while done.llen(DONE_KEY) < jobs and time.monotonic() < deadline:
            time.sleep(0.05)
        starts = sorted(float(x.split()[2]) for x in done.lrange(DONE_KEY, 0, -1))
        drain = (len(starts) - 1) / (starts[-1] - starts[0]) if len(starts) > 1 else 0.0
        finished = len(starts)
        # a queue that did not drain in time has no idle worker to measure pick-up with
        pickup = peer(queue, "latency", samples)["pickup_ms"] if finished == jobs else []
    finally:
        stop_workers(procs)
    return {"enqueue": enqueue, "drain": drain, "ran": finished, "pickup": pickup}


FMT = "{:.1f}"


def span(values: list[float], fmt: str = "{:.0f}") -> str:
    if not values:
        return "—"
    med = fmt.format(statistics.median(values))
    return f"{med} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per drain at most")
    parser.add_argument("--queues", nargs="*", default=list(QUEUES), choices=list(QUEUES))
    opts = parser.parse_args()
    if not (PEERS_PY / "python").exists():
        sys.exit("run bench/peers/setup.sh first (creates bench/peers/.venv)")
    prepare()
    results: dict[str, list[dict]] = {q: [] for q in opts.queues}
    load = [os.getloadavg()[0]]
    for rep in range(opts.reps):
        order = random.sample(opts.queues, len(opts.queues))
        for queue in order:
            try:
                result = one(queue, rep, opts.jobs, opts.samples, opts.timeout)
            except Exception as exc:  # noqa: BLE001 - report and go on with the others
                print(f"rep {rep + 1} {queue}: FAILED {type(exc).__name__}: {exc}", flush=True)
                continue
            results[queue].append(result)
            load.append(os.getloadavg()[0])
            p = result["pickup"]
            print(f"rep {rep + 1} {queue:16} enqueue {result['enqueue']:7.0f}/s  drain "
                  f"{result['drain']:7.1f}/s ({result['ran']}/{opts.jobs} ran)  pick-up "
                  f"p50 {pct(p, .5) if p else 0:6.1f} p95 {pct(p, .95) if p else 0:6.1f} ms  "
                  f"load {load[-1]:.2f}", flush=True)  # fmt: skip
    print()
    print(f"N = {opts.jobs} jobs, {opts.reps} repetitions, {opts.samples} pick-up samples each; "
          f"load average (1 min) {min(load):.2f}–{max(load):.2f}")  # fmt: skip
    print("| queue | model | enqueue/s | drain/s | pick-up p50 ms | pick-up p95 ms |")
    print("|---|---|---|---|---|---|")
    for queue in opts.queues:
        runs = results[queue]
        if not runs:
            print(f"| {queue} | {QUEUES[queue]} | failed | | | |")
            continue
        print(f"| {queue} | {QUEUES[queue]} | {span([r['enqueue'] for r in runs])} | "
              f"{span([r['drain'] for r in runs])} | "
              f"{span([pct(r['pickup'], .5) for r in runs if r['pickup']], FMT)} | "
              f"{span([pct(r['pickup'], .95) for r in runs if r['pickup']], FMT)} |")  # fmt: skip


if __name__ == "__main__":
    main()
