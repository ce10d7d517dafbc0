"""Enqueue cost on PostgreSQL: one by one (``services.enqueue``) and in one call
(``services.enqueue_many``), as wall rate and as CPU per job of this process and of its
database backend (``psutil``) — the CPU figures say more than the rate on a shared machine.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/enqueue.py [--jobs 1000] [--rounds 2]

Uses a fresh database ``core4_enqueue_bench`` on that server (dropped and created).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench/queue.py would shadow the standard library's ``queue`` (psycopg imports it)
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]
NOOP = "jobqueue.jobs.example.NoopJob"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database", default="core4_enqueue_bench")
    opts = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/enqueue.py needs DATABASE_URL=postgres://… (a server to create a db on)")
    parts = urlsplit(base)
    import psycopg

    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{opts.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{opts.database}"')
    url = urlunsplit(parts._replace(path="/" + opts.database))
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "core4site.settings",
           "CORE4_LOG_LEVEL": "WARNING"}  # fmt: skip
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    import psutil
    from django.db import connection

    from jobqueue import services

    services.enqueue(NOOP, warmup=True)
    backend = psutil.Process(connection.connection.info.backend_pid)

    def measure(label: str, work) -> None:
        server0, client0 = sum(backend.cpu_times()[:2]), time.process_time()
        start = time.perf_counter()
        work()
        wall = time.perf_counter() - start
        server = (sum(backend.cpu_times()[:2]) - server0) / opts.jobs * 1e6
        client = (time.process_time() - client0) / opts.jobs * 1e6
        print(f"{label}: server CPU {server:.0f} µs + client CPU {client:.0f} µs per job "
              f"= {server + client:.0f} µs; wall {opts.jobs / wall:.0f} jobs/s; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip

    for r in range(opts.rounds):
        one_by_one = [{"n": i, "round": r} for i in range(opts.jobs)]
        measure("enqueue one by one   ",
                lambda args=one_by_one: [services.enqueue(NOOP, **a) for a in args])  # fmt: skip
        items = [{"qual_name": NOOP, "args": {"bulk": i, "round": r}} for i in range(opts.jobs)]
        measure(f"enqueue_many({opts.jobs})", lambda items=items: services.enqueue_many(items))


if __name__ == "__main__":
    main()
