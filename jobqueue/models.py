"""The queue's tables.

``Job`` holds every job, unfinished and finished: a job that completed, was removed or was
replaced by a restart is *journaled* (``journaled=True``) and stays as history, but it no
longer counts in the queue nor blocks enqueueing the same (name, arguments) again — the
database enforces that uniqueness for unfinished jobs only.

``QueueCount`` keeps the number of unfinished jobs per state, updated by every transition in
its own transaction, so the counts an event carries cost the same at any queue depth.
``WorkerRecord`` is the worker registry (heartbeats), ``Lease`` the cluster-wide leases
(summary), ``Control`` the switches (pause, halt, daily maintenance bookmark).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core4api.ids import object_id, utcnow
from jobqueue.job import DEFAULTS
from jobqueue.states import PENDING, PICKABLE, RUNNING, STATES, WAITING


class Job(models.Model):
    id = models.CharField(primary_key=True, max_length=24, default=object_id, editable=False)
    name = models.CharField(max_length=255, db_index=False)
    args = models.JSONField(default=dict, blank=True)
    args_hash = models.CharField(max_length=32)
    state = models.CharField(max_length=16, choices=[(s, s) for s in STATES], default=PENDING)
    journaled = models.BooleanField(
        default=False, help_text="finished (complete, removed or restarted): history only"
    )

    # settings (CONTRACT §4)
    attempts = models.PositiveIntegerField(default=DEFAULTS["attempts"])
    defer_time = models.PositiveIntegerField(default=DEFAULTS["defer_time"])
    defer_max = models.PositiveIntegerField(default=DEFAULTS["defer_max"])
    error_time = models.PositiveIntegerField(default=DEFAULTS["error_time"])
    wall_time = models.PositiveIntegerField(null=True, blank=True)
    zombie_time = models.PositiveIntegerField(default=DEFAULTS["zombie_time"])
    max_parallel = models.PositiveIntegerField(default=DEFAULTS["max_parallel"])
    priority = models.IntegerField(default=DEFAULTS["priority"])
    force = models.BooleanField(default=DEFAULTS["force"])
    progress_interval = models.PositiveIntegerField(default=DEFAULTS["progress_interval"])
    worker = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - None means unset, as in core4

    # lifecycle
    attempts_left = models.IntegerField(default=DEFAULTS["attempts"])
    trial = models.PositiveIntegerField(default=0)
    enqueued_at = models.DateTimeField(default=utcnow)
    enqueued_by = models.CharField(max_length=150, blank=True, default="")
    enqueued_hostname = models.CharField(max_length=255, blank=True, default="")
    parent_id = models.CharField(max_length=24, null=True, blank=True)  # noqa: DJ001 - None means unset, as in core4
    child_id = models.CharField(max_length=24, null=True, blank=True)  # noqa: DJ001 - None means unset, as in core4
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    runtime = models.FloatField(null=True, blank=True)
    query_at = models.DateTimeField(null=True, blank=True)
    inactive_at = models.DateTimeField(null=True, blank=True)
    # request and flag timestamps
    removed_at = models.DateTimeField(null=True, blank=True)
    killed_at = models.DateTimeField(null=True, blank=True)
    wall_at = models.DateTimeField(null=True, blank=True)
    zombie_at = models.DateTimeField(null=True, blank=True)
    # while running
    locked_by = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - None means unset, as in core4
    locked_hostname = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - None means unset, as in core4
    pid = models.IntegerField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    # results
    prog_value = models.FloatField(null=True, blank=True)
    prog_message = models.TextField(null=True, blank=True)  # noqa: DJ001 - None means unset, as in core4
    last_error = models.JSONField(null=True, blank=True)
    stdout = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "args_hash"],
                condition=Q(journaled=False),
                name="queue_job_unfinished_unique",
            ),
        ]
        indexes = [
            # pick order over runnable jobs only
            models.Index(
                models.F("force").desc(),
                models.F("priority").desc(),
                "id",
                condition=Q(journaled=False, state__in=PICKABLE),
                name="queue_job_pick",
            ),
            # summary rows and running-per-name counts: an index-only scan on PostgreSQL
            models.Index(
                fields=[
                    "state",
                    "name",
                    "zombie_at",
                    "wall_at",
                    "removed_at",
                    "killed_at",
                    "prog_value",
                ],  # fmt: skip
                condition=Q(journaled=False),
                name="queue_job_summary",
            ),
            models.Index(
                fields=["locked_by"],
                condition=Q(journaled=False, state=RUNNING),
                name="queue_job_running",
            ),
            models.Index(
                fields=["query_at"],
                condition=Q(journaled=False, state__in=WAITING),
                name="queue_job_due",
            ),
            models.Index(
                fields=["removed_at"],
                condition=Q(journaled=False, removed_at__isnull=False),
                name="queue_job_removing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} [{self.id}]"

    # --- derived -------------------------------------------------------------------------
    @property
    def enqueued(self) -> dict:
        return {
            "at": self.enqueued_at,
            "by": self.enqueued_by,
            "hostname": self.enqueued_hostname,
            "parent_id": self.parent_id,
            "child_id": self.child_id,
        }

    @property
    def prog(self) -> dict:
        return {"value": self.prog_value, "message": self.prog_message}

    @property
    def project(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def flags(self) -> dict:
        return {
            "zombie": self.zombie_at is not None,
            "wall": self.wall_at is not None,
            "removed": self.removed_at is not None,
            "killed": self.killed_at is not None,
        }


class QueueCount(models.Model):
    """Unfinished jobs per state, kept by ``jobqueue.transitions`` (never written elsewhere)."""

    state = models.CharField(primary_key=True, max_length=16)
    n = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.state}: {self.n}"


class WorkerRecord(models.Model):
    """A worker process: who it is, where, and when it last said it is alive."""

    identifier = models.CharField(primary_key=True, max_length=255)
    hostname = models.CharField(max_length=255)
    pid = models.IntegerField()
    started = models.DateTimeField(default=utcnow)
    heartbeat = models.DateTimeField(default=utcnow)
    stopped = models.DateTimeField(null=True, blank=True)
    concurrency = models.PositiveIntegerField(default=1)
    running = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["identifier"]

    def __str__(self) -> str:
        return self.identifier


class Lease(models.Model):
    """A cluster-wide role held by one worker at a time until ``expires``."""

    name = models.CharField(primary_key=True, max_length=64)
    holder = models.CharField(max_length=255)
    expires = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder}"


class Control(models.Model):
    """Switches shared by all workers: ``pause``, ``pause:<project>``, ``halt``, ``daily``."""

    key = models.CharField(primary_key=True, max_length=255)
    value = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(default=utcnow)

    def __str__(self) -> str:
        return self.key
