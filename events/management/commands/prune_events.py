"""``manage.py prune_events``: delete events older than ``CORE4_EVENT_RETENTION_DAYS``, in
batches with progress (:class:`core4api.retention.RetentionCommand`). Run daily by the worker
(``CORE4_WORKER_DAILY_COMMANDS``)."""

from __future__ import annotations

from core4api.retention import RetentionCommand
from events.models import Event


class Command(RetentionCommand):
    help = "Delete events older than CORE4_EVENT_RETENTION_DAYS (default 30) days, in batches."
    setting = "CORE4_EVENT_RETENTION_DAYS"
    noun = "events"
    default_batch = 5000

    def expired(self, cutoff):
        return Event.objects.filter(created__lt=cutoff).order_by("id")
