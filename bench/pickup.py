"""Where an idle worker's pick-up time goes (PostgreSQL): enqueue one job at a time into an
idle worker and split enqueue call → job body into its steps.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/pickup.py [--pool] [--samples 60]

Steps per job, from the job's own record: the enqueue call (until it returned: its commit
included), → ``started_at`` (the worker's claim: woken by ``NOTIFY``, its turn's pick), →
the job body's first line (the claim's commit, the hand-over to a job or pool process, that
process's set-up; ``bench.benchjobs.StampJob`` returns ``time.time()`` as its result). Uses a
fresh database ``core4_pickup``.
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
STAMP = "bench.benchjobs.StampJob"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--pool", action="store_true", help="worker --pool")
    parser.add_argument("--concurrency", type=int, default=2)
    opts = parser.parse_args()
    from bench.queue import fresh_stack

    env = fresh_stack("core4_pickup", "bench/pickup.py")

    import django

    django.setup()
    from jobqueue import services
    from jobqueue.models import Job, WorkerRecord

    cmd = [sys.executable, "manage.py", "worker", "pickup", "--concurrency",
           str(opts.concurrency), *(["--pool"] if opts.pool else [])]  # fmt: skip
    worker = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    steps: dict[str, list[float]] = {"enqueue call": [], "→ claimed": [], "→ job body": []}
    totals = []
    try:
        while not WorkerRecord.objects.alive().filter(pk="pickup").exists():
            time.sleep(0.1)
        time.sleep(1.0)
        for i in range(opts.samples + 5):
            t0 = time.time()
            job = services.enqueue(STAMP, n=i)
            t1 = time.time()
            while True:
                row = Job.objects.filter(pk=job.id).values("started_at", "result", "state")[0]
                if row["state"] == "complete":
                    break
                time.sleep(0.002)
            if i < 5:
                continue  # the worker's first jobs: connections and caches warm up
            claimed, body = row["started_at"].timestamp(), float(row["result"])
            steps["enqueue call"].append((t1 - t0) * 1000)
            steps["→ claimed"].append((claimed - t1) * 1000)
            steps["→ job body"].append((body - claimed) * 1000)
            totals.append((body - t0) * 1000)
            time.sleep(0.05)
    finally:
        worker.terminate()
        worker.wait(30)
    mode = "warm pool" if opts.pool else "a process per job"
    print(f"idle worker, {mode}, {opts.samples} jobs one at a time; "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"  {'step':14s} {'p50 ms':>7s} {'p95 ms':>7s}")
    for name, values in [*steps.items(), ("pick-up", totals)]:
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"  {name:14s} {statistics.median(values):7.2f} {p95:7.2f}")


if __name__ == "__main__":
    main()
