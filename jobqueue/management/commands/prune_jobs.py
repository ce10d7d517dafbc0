"""``manage.py prune_jobs``: delete finished jobs journaled more than
``CORE4_JOB_RETENTION_DAYS`` days ago.

Only journaled jobs (complete, removed, restarted) go: a job stopped for good that is still in
the queue (error, killed, inactive) stays until it is restarted or removed. Deletes in batches
of ids, each its own short transaction (a large backlog never holds a long lock or a huge
transaction), with progress for large deletes. Run daily by the worker
(``CORE4_WORKER_DAILY_COMMANDS``).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core4api.ids import utcnow
from jobqueue.models import Job


class Command(BaseCommand):
    help = (
        "Delete finished (journaled) jobs older than CORE4_JOB_RETENTION_DAYS (default 30) "
        "days, in batches."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="keep this many days instead of CORE4_JOB_RETENTION_DAYS",
        )
        parser.add_argument("--batch", type=int, default=2000, help="jobs per delete")
        parser.add_argument(
            "--dry-run", action="store_true", help="only count what would be deleted"
        )

    def handle(self, *args, days, batch, dry_run, **options):
        days = settings.CORE4_JOB_RETENTION_DAYS if days is None else days
        if days < 0:
            raise CommandError("--days must be >= 0")
        if batch < 1:
            raise CommandError("--batch must be >= 1")
        cutoff = utcnow() - timedelta(days=days)
        old = Job.objects.filter(journaled=True, journaled_at__lt=cutoff)
        total = old.count()
        verbosity = options.get("verbosity", 1)
        if dry_run or total == 0:
            self.stdout.write(
                f"{total} finished jobs older than {days} days ({cutoff:%Y-%m-%d %H:%M})"
            )
            return
        deleted = 0
        show_progress = verbosity >= 1 and total > batch
        while True:
            with transaction.atomic():
                ids = list(old.order_by("journaled_at").values_list("id", flat=True)[:batch])
                if not ids:
                    break
                count, _ = Job.objects.filter(id__in=ids, journaled=True).delete()
            deleted += count
            if show_progress:
                pct = 100 * min(deleted, total) // total
                self.stdout.write(f"  deleted {deleted}/{total} ({pct} %)")
        if verbosity >= 1:
            self.stdout.write(f"deleted {deleted} finished jobs older than {days} days")
