"""A management command that deletes what is older than a retention, in batches.

Each batch of ids is its own short transaction, so that a large backlog never holds a long
lock or a huge transaction; large deletes show progress. ``prune_events`` and ``prune_jobs``
are its users (run daily by the worker through ``CORE4_WORKER_DAILY_COMMANDS``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import QuerySet

from core4api.ids import utcnow


class RetentionCommand(BaseCommand):
    #: the setting with the days to keep, e.g. ``CORE4_EVENT_RETENTION_DAYS``
    setting = ""
    #: what is deleted, in words (``events``, ``finished jobs``)
    noun = ""
    default_batch = 2000

    def expired(self, cutoff: datetime) -> QuerySet:
        """What is older than ``cutoff``, ordered oldest first."""
        raise NotImplementedError

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days", type=int, default=None,
            help=f"keep this many days instead of {self.setting}",
        )  # fmt: skip
        parser.add_argument("--batch", type=int, default=self.default_batch, help="rows per delete")
        parser.add_argument(
            "--dry-run", action="store_true", help="only count what would be deleted"
        )

    def handle(self, *args: Any, days: int | None, batch: int, dry_run: bool, **options: Any):
        days = getattr(settings, self.setting) if days is None else days
        if days < 0:
            raise CommandError("--days must be >= 0")
        if batch < 1:
            raise CommandError("--batch must be >= 1")
        cutoff = utcnow() - timedelta(days=days)
        old = self.expired(cutoff)
        total = old.count()
        verbosity = options.get("verbosity", 1)
        if dry_run or total == 0:
            when = f"{cutoff:%Y-%m-%d %H:%M}"
            self.stdout.write(f"{total} {self.noun} older than {days} days ({when})")
            return
        deleted = 0
        show_progress = verbosity >= 1 and total > batch
        while True:
            with transaction.atomic():
                ids = list(old.values_list("pk", flat=True)[:batch])
                if not ids:
                    break
                count, _ = old.filter(pk__in=ids).delete()
            deleted += count
            if show_progress:
                pct = 100 * min(deleted, total) // total
                self.stdout.write(f"  deleted {deleted}/{total} ({pct} %)")
        if verbosity >= 1:
            self.stdout.write(f"deleted {deleted} {self.noun} older than {days} days")
