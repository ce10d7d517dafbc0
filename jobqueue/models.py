"""The queue's tables.

``Job`` holds every job, unfinished and finished: a job that completed, was removed or was
replaced by a restart is *journaled* (``journaled=True``) and stays as history, but it no
longer counts in the queue nor blocks enqueueing the same (name, arguments) again — the
database enforces that uniqueness for unfinished jobs only.

``QueueCount`` keeps the number of unfinished jobs per state, updated by every transition in
its own transaction, so the counts an event carries cost the same at any queue depth.
``WorkerRecord`` is the worker registry (heartbeats), ``Lease`` the cluster-wide leases
(periodic duties), ``Control`` the switches (pause, halt, daily maintenance bookmark) and
each worker's mode (quiet, stopping).

The queries the worker, the services and the CLI share are written once, here, as manager
and queryset methods (``WorkerRecord.objects.alive()``, ``Control.objects.switches()``,
``Lease.objects.acquire(...)``): who counts as alive or paused must not differ between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, models, transaction
from django.db.models import Min, Q

from core4api.ids import object_id, utcnow
from jobqueue.job import DEFAULTS
from jobqueue.states import PENDING, PICKABLE, RUNNING, STATES, WAITING


class JobQuerySet(models.QuerySet["Job"]):
    """The worker's questions about jobs (it changes their state through ``transitions``)."""

    def running(self, worker: str | None = None) -> JobQuerySet:
        """Running jobs (of ``worker``)."""
        running = self.filter(journaled=False, state=RUNNING)
        return running if worker is None else running.filter(locked_by=worker)

    def orphaned(self, worker: str, now: datetime | None = None) -> JobQuerySet:
        """Running jobs of workers that are not alive, ``worker``'s own excluded."""
        alive = WorkerRecord.objects.alive(now).values("identifier")
        return self.running().exclude(locked_by__in=alive).exclude(locked_by=worker)

    def removable(self) -> JobQuerySet:
        """Jobs asked to be removed that no longer run."""
        return self.filter(journaled=False, removed_at__isnull=False).exclude(state=RUNNING)

    def next_due(self) -> datetime | None:
        """When the next waiting (deferred, failed) job becomes runnable."""
        due = self.filter(journaled=False, state__in=WAITING, query_at__isnull=False)
        return due.aggregate(at=Min("query_at"))["at"]

    def save_output(self, job_id: str, worker: str, stdout: str) -> int:
        """Copy a running job's output so far into ``stdout``: not a transition (no state,
        no event), so it is not one of ``transitions``; ignored once the job has ended."""
        return self.running(worker).filter(pk=job_id).update(stdout=stdout)


def default_error_time() -> int | dict:
    """``error_time``'s column default (a JSON column wants a callable)."""
    return DEFAULTS["error_time"]


class Job(models.Model):
    id = models.CharField(primary_key=True, max_length=24, default=object_id, editable=False)
    name = models.CharField(max_length=255, db_index=False)
    args = models.JSONField(default=dict, blank=True)
    args_hash = models.CharField(max_length=32)
    state = models.CharField(max_length=16, choices=[(s, s) for s in STATES], default=PENDING)
    journaled = models.BooleanField(
        default=False, help_text="finished (complete, removed or restarted): history only"
    )
    journaled_at = models.DateTimeField(
        null=True, blank=True, help_text="when it was journaled (the job retention counts from it)"
    )

    # settings
    attempts = models.PositiveIntegerField(default=DEFAULTS["attempts"])
    defer_time = models.PositiveIntegerField(default=DEFAULTS["defer_time"])
    defer_max = models.PositiveIntegerField(default=DEFAULTS["defer_max"])
    # seconds (an int, as in core4) or a backoff spec {base, factor, max, jitter}
    error_time = models.JSONField(default=default_error_time)
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
    # what ``execute()`` returned (JSON, at most ``CORE4_RESULT_MAX`` bytes encoded)
    result = models.JSONField(null=True, blank=True)
    # hard limit in seconds: a job still running then is killed and counts as failed
    timeout = models.PositiveIntegerField(null=True, blank=True)
    # the ``Schedule`` that enqueued the job (``enqueued_by`` is then ``scheduler``)
    schedule_id = models.CharField(max_length=24, null=True, blank=True)  # noqa: DJ001 - None means unset, as in core4
    # how the job ran: ``fork`` (a process of its own) or ``pool`` (a reused process)
    run_mode = models.CharField(max_length=8, blank=True, default="")

    objects = JobQuerySet.as_manager()

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
            # pick order over runnable jobs only. The predicate holds every condition of the
            # pick that is a plain column test (``transitions._candidates``), so PostgreSQL
            # walks this index in pick order even when its statistics are stale (a burst of
            # enqueues before autovacuum's ANALYZE: estimated 1 row): with a looser predicate
            # it chose ``queue_job_summary`` and sorted every runnable job on each pick.
            models.Index(
                models.F("force").desc(),
                models.F("priority").desc(),
                "id",
                condition=Q(journaled=False, state__in=PICKABLE, removed_at=None, killed_at=None),
                name="queue_job_pick_order",
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
            # the journal by the time jobs left the queue: its listing and retention
            models.Index(
                fields=["journaled_at"],
                condition=Q(journaled=True),
                name="queue_job_journal",
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


def alive_since(now: datetime | None = None) -> datetime:
    """The oldest heartbeat of a worker still alive (``CORE4_WORKER_TIMEOUT``)."""
    return (now or utcnow()) - timedelta(seconds=settings.CORE4_WORKER_TIMEOUT)


class WorkerRecordManager(models.Manager["WorkerRecord"]):
    def alive(self, now: datetime | None = None) -> models.QuerySet[WorkerRecord]:
        """Workers not stopped whose heartbeat is younger than ``CORE4_WORKER_TIMEOUT``."""
        return self.filter(stopped=None, heartbeat__gte=alive_since(now))

    def beat(self, identifier: str, running: list[str], now: datetime) -> None:
        """The worker's heartbeat, with the jobs it runs."""
        self.filter(pk=identifier).update(heartbeat=now, running=running, stopped=None)

    def stop(self, identifier: str, pid: int) -> None:
        """Mark the worker stopped — unless another process took over its identifier."""
        self.filter(pk=identifier, pid=pid).update(stopped=utcnow(), running=[])


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

    objects = WorkerRecordManager()

    class Meta:
        ordering = ["identifier"]

    def __str__(self) -> str:
        return self.identifier

    def is_alive(self, now: datetime | None = None) -> bool:
        """What ``WorkerRecord.objects.alive()`` says of this record."""
        return self.stopped is None and self.heartbeat >= alive_since(now)


class LeaseManager(models.Manager["Lease"]):
    def acquire(self, name: str, holder: str, seconds: float) -> bool:
        """Take lease ``name`` for ``seconds`` (or renew it): True if ``holder`` holds it.

        One conditional UPDATE, so of two workers asking at once only one gets it; the
        first ever asker creates the row.
        """
        now = utcnow()
        expires = now + timedelta(seconds=seconds)
        taken = (
            self.filter(name=name)
            .filter(Q(holder=holder) | Q(expires__lt=now))
            .update(holder=holder, expires=expires)
        )
        if taken:
            return True
        _, created = self.get_or_create(name=name, defaults={"holder": holder, "expires": expires})
        return created

    def release(self, holder: str) -> None:
        """Let the leases of ``holder`` expire now: another worker takes them at once."""
        self.filter(holder=holder).update(expires=utcnow())


class Lease(models.Model):
    """A cluster-wide role held by one worker at a time until ``expires``."""

    name = models.CharField(primary_key=True, max_length=64)
    holder = models.CharField(max_length=255)
    expires = models.DateTimeField()

    objects = LeaseManager()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder}"


@dataclass(frozen=True)
class Switches:
    """The pause and halt switches as one read (``Control.objects.switches()``), with one
    worker's mode when asked for."""

    paused: bool = False
    projects: list[str] = field(default_factory=list)
    halt: datetime | None = None
    worker_mode: str | None = None  # QUIET, STOPPING or None (active)
    worker_by: str = ""  # who set it


#: the compiled statement of ``ControlManager.switches`` per (database, worker), PostgreSQL
_SWITCHES_SQL: dict[tuple[str, str | None], tuple[str, tuple]] = {}


class ControlManager(models.Manager["Control"]):
    PAUSE = "pause"
    HALT = "halt"
    WORKER = "worker:"
    #: a worker's modes: not picking (running jobs go on) / stopping gracefully
    QUIET = "quiet"
    STOPPING = "stopping"

    def pause_key(self, project: str | None = None) -> str:
        """The key of the pause of ``project`` (None: of all)."""
        return self.PAUSE if project is None else f"{self.PAUSE}:{project}"

    def switches(self, worker: str | None = None) -> Switches:
        """Global pause, paused projects, when halt was last requested and — with
        ``worker`` — that worker's mode: one query."""
        rows = self._switch_rows(worker)
        prefix = self.pause_key("")
        mode = rows.get(self.worker_key(worker)) if worker is not None else None
        value = mode[1] if mode and isinstance(mode[1], dict) else {}
        return Switches(
            paused=self.PAUSE in rows,
            projects=sorted(k[len(prefix) :] for k in rows if k.startswith(prefix)),
            halt=rows[self.HALT][0] if self.HALT in rows else None,
            worker_mode=value.get("mode"),
            worker_by=str(value.get("by", "")),
        )

    def _switch_rows(self, worker: str | None) -> dict[str, tuple[datetime, Any]]:
        """``{key: (created, value)}`` of the pause and halt rows and ``worker``'s mode (a
        statement built once: a worker reads them before every pick)."""
        connection = connections[self.db]
        key = (self.db, worker)
        sql = _SWITCHES_SQL.get(key) if connection.vendor == "postgresql" else None
        if sql is None:
            wanted = Q(key__startswith=self.PAUSE) | Q(key=self.HALT)
            if worker is not None:
                wanted |= Q(key=self.worker_key(worker))
            query = self.filter(wanted).values_list("key", "created", "value")
            if connection.vendor != "postgresql":
                return {key: (created, value) for key, created, value in query}
            if len(_SWITCHES_SQL) >= 64:
                _SWITCHES_SQL.clear()
            sql = _SWITCHES_SQL[key] = query.query.sql_with_params()
        value_field = self.model._meta.get_field("value")
        created_field = self.model._meta.get_field("created")
        with connection.cursor() as cursor:
            cursor.execute(*sql)
            return {
                key: (
                    created_field.to_python(created),
                    value_field.from_db_value(value, None, connection),  # type: ignore[attr-defined]
                )
                for key, created, value in cursor.fetchall()
            }

    # --- per worker: quiet, stopping ----------------------------------------------------------
    def worker_key(self, identifier: str) -> str:
        return self.WORKER + identifier

    def worker_modes(self) -> dict[str, str]:
        """Each worker's mode that is not active: ``{identifier: QUIET | STOPPING}``."""
        rows = self.filter(key__startswith=self.WORKER).values_list("key", "value")
        return {
            key[len(self.WORKER) :]: value["mode"]
            for key, value in rows
            if isinstance(value, dict) and value.get("mode") in (self.QUIET, self.STOPPING)
        }

    def set_worker_mode(self, identifier: str, mode: str, by: str) -> None:
        self.update_or_create(
            key=self.worker_key(identifier),
            defaults={"value": {"mode": mode, "by": by}, "created": utcnow()},
        )

    def clear_worker_mode(self, identifier: str) -> bool:
        deleted, _ = self.filter(key=self.worker_key(identifier)).delete()
        return bool(deleted)

    def claim_period(self, key: str, seconds: float, holder: str) -> bool:
        """True at most once per ``seconds`` for bookmark ``key`` across the cluster (and
        restarts): the first caller after that sets the bookmark to now."""
        now = utcnow()
        with transaction.atomic():
            row, _ = self.select_for_update().get_or_create(key=key, defaults={"value": None})
            last = row.value and row.value.get("at")
            if last and now.timestamp() - last < seconds:
                return False
            row.value = {"at": now.timestamp(), "by": holder}
            row.save(update_fields=["value"])
        return True


class Control(models.Model):
    """Switches shared by all workers: ``pause``, ``pause:<project>``, ``halt``, ``daily``;
    and per worker ``worker:<identifier>`` (its mode: quiet or stopping, while it runs)."""

    key = models.CharField(primary_key=True, max_length=255)
    value = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(default=utcnow)

    objects = ControlManager()

    def __str__(self) -> str:
        return self.key


class Schedule(models.Model):
    """A job enqueued when due: by a cron expression evaluated in ``timezone`` or every
    ``interval`` seconds. ``source`` is ``runtime`` for schedules managed in the admin, over
    REST, in the dashboard or in coco, ``class`` for a job class's ``schedule`` attribute
    (kept in sync by the scheduler, read-only elsewhere). ``next_run`` is when it is due next
    (UTC); the scheduler's step fires every enabled schedule with ``next_run <= now`` once
    and moves ``next_run`` past now, so a gap of many missed times gives one enqueue."""

    RUNTIME = "runtime"
    CLASS = "class"

    id = models.CharField(primary_key=True, max_length=24, default=object_id, editable=False)
    name = models.CharField(max_length=255)  # the job's qualified name (registry)
    args = models.JSONField(default=dict, blank=True)
    cron = models.CharField(max_length=255, blank=True, default="")
    interval = models.PositiveIntegerField(null=True, blank=True)  # seconds
    timezone = models.CharField(max_length=64, default="UTC")
    enabled = models.BooleanField(default=True)
    source = models.CharField(
        max_length=8, choices=[(RUNTIME, RUNTIME), (CLASS, CLASS)], default=RUNTIME
    )
    next_run = models.DateTimeField(null=True, blank=True)
    last_run = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=16, blank=True, default="")
    last_job_id = models.CharField(max_length=24, null=True, blank=True)  # noqa: DJ001 - None means never
    reason = models.TextField(blank=True, default="")  # why it was disabled
    created_at = models.DateTimeField(default=utcnow)
    created_by = models.CharField(max_length=150, blank=True, default="")
    updated_at = models.DateTimeField(default=utcnow)
    etag = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=Q(source="class"), name="queue_schedule_class_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["next_run"], condition=Q(enabled=True), name="queue_schedule_due"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.cron or f'every {self.interval} s'} [{self.id}]"
