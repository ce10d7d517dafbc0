"""``manage.py prune_jobs``: delete finished jobs journaled more than
``CORE4_JOB_RETENTION_DAYS`` days ago.

Only journaled jobs (complete, removed, restarted) go: a job stopped for good that is still in
the queue (error, killed, inactive) stays until it is restarted or removed. Deletes in batches
of ids, each its own short transaction (a large backlog never holds a long lock or a huge
transaction), with progress for large deletes. Run daily by the worker
(``CORE4_WORKER_DAILY_COMMANDS``).
"""

from __future__ import annotations

from core4api.retention import RetentionCommand
from jobqueue.models import Job


class Command(RetentionCommand):
    help = (
        "Delete finished (journaled) jobs older than CORE4_JOB_RETENTION_DAYS (default 30) "
        "days, in batches."
    )
    setting = "CORE4_JOB_RETENTION_DAYS"
    noun = "finished jobs"

    def expired(self, cutoff):
        return Job.objects.filter(journaled=True, journaled_at__lt=cutoff).order_by("journaled_at")
