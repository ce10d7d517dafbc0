"""``manage.py prune_events``: delete events older than ``CORE4_EVENT_RETENTION_DAYS``.

Deletes in batches of ids (each its own short transaction, so that a large backlog never
holds a long lock or a huge transaction) and shows progress for large deletes. Run daily by
the worker (``CORE4_WORKER_DAILY_COMMANDS``).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core4api.ids import utcnow
from events.models import Event


class Command(BaseCommand):
    help = "Delete events older than CORE4_EVENT_RETENTION_DAYS (default 30) days, in batches."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="keep this many days instead of CORE4_EVENT_RETENTION_DAYS",
        )
        parser.add_argument("--batch", type=int, default=5000, help="rows per delete")
        parser.add_argument(
            "--dry-run", action="store_true", help="only count what would be deleted"
        )

    def handle(self, *args, days, batch, dry_run, **options):
        days = settings.CORE4_EVENT_RETENTION_DAYS if days is None else days
        if days < 0:
            raise CommandError("--days must be >= 0")
        if batch < 1:
            raise CommandError("--batch must be >= 1")
        cutoff = utcnow() - timedelta(days=days)
        old = Event.objects.filter(created__lt=cutoff)
        total = old.count()
        verbosity = options.get("verbosity", 1)
        if dry_run or total == 0:
            self.stdout.write(f"{total} events older than {days} days ({cutoff:%Y-%m-%d %H:%M})")
            return
        deleted = 0
        show_progress = verbosity >= 1 and total > batch
        while True:
            with transaction.atomic():
                ids = list(old.order_by("id").values_list("id", flat=True)[:batch])
                if not ids:
                    break
                count, _ = Event.objects.filter(id__in=ids).delete()
            deleted += count
            if show_progress:
                self.stdout.write(f"  deleted {deleted}/{total} ({100 * deleted // total} %)")
        if verbosity >= 1:
            self.stdout.write(f"deleted {deleted} events older than {days} days")
