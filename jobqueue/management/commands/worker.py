"""``manage.py worker [IDENTIFIER] [--concurrency N] [--pool]`` — run a worker until SIGTERM
or halt."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from jobqueue.transitions import hostname
from jobqueue.worker import Worker, WorkerExists


class Command(BaseCommand):
    #: no system checks (``manage.py check`` runs them): they load the URLconf, the API and
    #: the dashboard's views — into the fork server and every job process too (~16 MB each)
    requires_system_checks: list[str] = []
    help = (
        "Run a worker: picks jobs and runs each in its own process. SIGTERM or Ctrl-C stops it "
        "gracefully (running jobs get CORE4_WORKER_GRACE seconds, then are retried); a second "
        "one at once."
    )

    def add_arguments(self, parser):
        parser.add_argument("identifier", nargs="?", default=None,
                            help="unique worker name (default worker@HOSTNAME)")  # fmt: skip
        parser.add_argument("--concurrency", type=int, default=None,
                            help="jobs at once (default CORE4_WORKER_CONCURRENCY)")  # fmt: skip
        parser.add_argument(
            "--pool",
            action="store_true",
            help="run every job in reused pool processes (default: each job in its own "
            "process, unless its class says run_mode = 'pool')",
        )

    def handle(self, *args, identifier: str | None, concurrency: int | None, pool: bool = False,
               **options):  # fmt: skip
        identifier = identifier or f"worker@{hostname()}"
        if concurrency is not None and concurrency < 1:
            raise CommandError("--concurrency must be >= 1")
        try:
            worker = Worker(identifier, concurrency, pool=pool)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        worker.install_signal_handlers()
        if settings.CORE4_LOG_FORMAT == "json":  # every line a JSON object (README "Monitoring")
            logging.getLogger("jobqueue.worker").info("start worker [%s]", identifier)
        else:
            self.stdout.write(f"start worker [{identifier}]")
            self.stdout.flush()
        try:
            worker.run()
        except WorkerExists as exc:
            raise CommandError(str(exc)) from None
