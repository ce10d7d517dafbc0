"""What a django.tasks enqueue costs next to a plain job's (not a test): prints figures for
bench/RESULTS.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dev_tasks REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/tasks.py --jobs 1000

Runs in this process against a fresh test database (Django's ``test_<name>``, created, migrated
and dropped again) of ``DATABASE_URL``; give it ``REDIS_URL`` too (a script does not start the
embedded Redis, so without it every enqueue logs that the channel layer is unreachable). Each
enqueue is its own transaction with its outbox event, as in production; nothing runs the jobs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))


def timed(label: str, count: int, call) -> list:
    results = []
    started = time.perf_counter()
    for i in range(count):
        results.append(call(i))
    elapsed = time.perf_counter() - started
    print(f"{label:<44} {count:>6} × {elapsed / count * 1000:7.2f} ms = {count / elapsed:8.0f}/s")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="enqueues per kind")
    count = parser.parse_args().jobs

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core4site.settings")
    import django

    django.setup()
    from django.db import connection

    from jobqueue import enqueue, services
    from jobqueue.jobs.example import NoopJob, greet

    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        print(f"{platform.node()} · {connection.vendor} · load {os.getloadavg()[0]:.2f} · "
              f"python {platform.python_version()}")  # fmt: skip
        noop = "jobqueue.jobs.example.NoopJob"
        timed("jobqueue.services.enqueue(name, a=i)", count, lambda i: services.enqueue(noop, a=i))
        timed("jobqueue.enqueue(NoopJob, b=i) -> id", count, lambda i: enqueue(NoopJob, b=i))
        results = timed(
            "greet.enqueue(str(i)) -> TaskResult", count, lambda i: greet.enqueue(str(i))
        )
        timed("greet.get_result(id)", count, lambda i: greet.get_result(results[i].id))
        print(f"load after: {os.getloadavg()[0]:.2f}")
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    main()
