"""``manage.py scheduler [IDENTIFIER]`` — run the scheduler on its own (core4's
``coco --scheduler``), until SIGTERM or Ctrl-C.

It takes the same ``scheduler`` lease as the workers' duty, so however many schedulers and
workers run, one process of the cluster fires; set ``CORE4_SCHEDULER=off`` for the workers
to leave it to this command entirely.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from jobqueue.duties import Duties, Scheduler
from jobqueue.transitions import hostname

log = logging.getLogger("jobqueue.scheduler")


class Command(BaseCommand):
    #: no system checks (``manage.py check`` runs them): they load the web side it never uses
    requires_system_checks: list[str] = []
    help = (
        "Run the scheduler: enqueue the jobs of due schedules (job classes' `schedule`, "
        "runtime schedules) once a second while this process holds the scheduler lease. "
        "SIGTERM or Ctrl-C stops it and hands the lease over at once."
    )

    def add_arguments(self, parser):
        parser.add_argument("identifier", nargs="?", default=None,
                            help="name of this scheduler (default scheduler@HOSTNAME)")  # fmt: skip

    def handle(self, *args: Any, identifier: str | None, **options: Any) -> None:
        identifier = identifier or f"scheduler@{hostname()}"
        if len(identifier) > 255 or any(c.isspace() for c in identifier):
            raise CommandError(f"invalid scheduler identifier [{identifier}]")
        stop = threading.Event()

        def on_signal(signum: int, _frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        duty = Scheduler(identifier)
        duties = Duties(identifier, [duty])
        self.stdout.write(f"start scheduler [{identifier}]")
        self.stdout.flush()
        holding = False
        try:
            while not stop.is_set():
                try:
                    runs = duty.runs
                    duties.run_due()
                    if duty.runs > runs and not holding:
                        holding = True
                        self.stdout.write(f"scheduler [{identifier}] holds the lease: firing")
                        self.stdout.flush()
                except Exception:
                    log.exception("scheduler [%s]: step failed, retrying", identifier)
                    close_old_connections()
                    stop.wait(1.0)
                stop.wait(max(0.0, min(1.0, duties.next_at() - time.monotonic())))
        finally:
            try:
                duties.release()
            except Exception:  # noqa: BLE001 - leaving anyway; the lease expires by itself
                log.warning("scheduler [%s]: could not release its lease", identifier)
            self.stdout.write(f"scheduler [{identifier}] stopped")
