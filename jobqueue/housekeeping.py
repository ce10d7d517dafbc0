"""The worker's housekeeping: what it checks every ``CORE4_WORKER_TICK`` seconds.

Its own registration and heartbeat, kill requests for its jobs, jobs over their ``timeout``
(killed, settled as a failure), the non-stop (wall time) and zombie flags, jobs asked to be
removed, jobs left running by workers that died, the pause and halt switches and this
worker's own mode (quiet: no picking; stopping). Each is a
request or a fact in the database that no event wakes the worker for, so it is polled —
cheaply, from partial indexes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Callable
from datetime import datetime, timedelta

import psutil
from django.db import transaction

from core4api.ids import utcnow
from jobqueue import transitions
from jobqueue.models import Control, Job, Switches, WorkerRecord
from jobqueue.processes import Processes, Slot

log = logging.getLogger(__name__)

#: Jobs a sweep settles at most per tick (the rest next tick: a tick stays short).
SWEEP = 200


class WorkerExists(RuntimeError):
    """Another live process runs under this worker identifier."""


class Housekeeping:
    """The periodic checks of one worker over ``processes``; ``halt(reason)`` stops the
    worker gracefully."""

    def __init__(self, worker: str, processes: Processes, halt: Callable[[str], None]):
        self.worker = worker
        self.hostname = transitions.hostname()
        self.processes = processes
        self.halt = halt
        self.started = utcnow()
        self.switches = Switches()

    # --- registration ------------------------------------------------------------------------
    def register(self, concurrency: int) -> None:
        """Enter the worker registry; raise :class:`WorkerExists` if the identifier is in use
        by a live process; settle the jobs an earlier life of this identifier left running."""
        now = utcnow()
        self.started = now
        with transaction.atomic():
            record = WorkerRecord.objects.select_for_update().filter(pk=self.worker).first()
            if record is not None and self._alive_elsewhere(record):
                raise WorkerExists(
                    f"worker [{self.worker}] is running already "
                    f"(pid {record.pid} on {record.hostname})"
                )
            WorkerRecord.objects.update_or_create(
                identifier=self.worker,
                defaults={
                    "hostname": self.hostname,
                    "pid": os.getpid(),
                    "started": now,
                    "heartbeat": now,
                    "stopped": None,
                    "concurrency": concurrency,
                    "running": [],
                },
            )
        transitions.recount()
        # a mode set for an earlier life of this identifier is not this process's
        Control.objects.clear_worker_mode(self.worker)
        # jobs this identifier left running in an earlier life cannot be ours
        for job in Job.objects.running(self.worker):
            self.settle_foreign(job, f"worker [{self.worker}] restarted")

    def _alive_elsewhere(self, record: WorkerRecord) -> bool:
        if not record.is_alive():
            return False
        if record.hostname != self.hostname:
            return True
        return record.pid != os.getpid() and psutil.pid_exists(record.pid)

    def unregister(self) -> None:
        WorkerRecord.objects.stop(self.worker, os.getpid())
        Control.objects.clear_worker_mode(self.worker)

    def stopping(self, reason: str) -> None:
        """Show this worker as stopping (``/system``, the dashboard), whatever stops it."""
        Control.objects.set_worker_mode(self.worker, Control.objects.STOPPING, reason)

    @property
    def quiet(self) -> bool:
        """Asked not to pick jobs (``PUT /system/worker/<id>/quiet``, ``coco --quiet``)."""
        return self.switches.worker_mode == Control.objects.QUIET

    # --- every tick --------------------------------------------------------------------------
    def tick(self) -> None:
        now = utcnow()
        mine = {slot.job_id: slot for slot in self.processes.slots.values()}
        WorkerRecord.objects.beat(self.worker, sorted(mine), now)
        self.read_switches()
        self._check_running(mine, now)
        self.processes.flush_output()
        self._sweep_removed()
        self._settle_dead_workers(now)

    def _check_running(self, mine: dict[str, Slot], now: datetime) -> None:
        """Kill requests and flags of this worker's jobs; jobs it does not know settled."""
        running = Job.objects.running(self.worker).only(
            "id", "killed_at", "wall_time", "wall_at", "zombie_time", "zombie_at",
            "started_at", "heartbeat", "pid", "locked_hostname", "name", "timeout",
        )  # fmt: skip
        for job in running:
            slot = mine.get(job.id)
            if slot is None:
                if not any(s.job_id == job.id for s in self.processes.unsettled):
                    self.settle_foreign(job, "job not known to its worker")
                continue
            if job.killed_at is not None:
                self.processes.kill(slot, "JobKilledByWorker")
                continue
            if job.timeout and timed_out(job, slot, now):
                self.processes.time_out(slot, job.timeout)
                continue
            if (
                job.wall_time
                and job.wall_at is None
                and job.started_at
                and job.started_at < now - timedelta(seconds=job.wall_time)
            ):
                transitions.flag_nonstop(job.id)
            if (
                job.zombie_at is None
                and job.heartbeat
                and job.heartbeat < now - timedelta(seconds=job.zombie_time)
            ):
                transitions.flag_zombie(job.id)

    def read_switches(self) -> Switches:
        """Pause, halt and this worker's mode: a halt requested since this worker started,
        or a stop asked of this worker, stops it."""
        self.switches = Control.objects.switches(self.worker)
        halt = self.switches.halt
        if halt is not None and halt >= self.started:
            self.halt("halt")
        if self.switches.worker_mode == Control.objects.STOPPING:
            self.halt(self.switches.worker_by or "stop requested")
        return self.switches

    def _sweep_removed(self) -> None:
        for job_id in list(Job.objects.removable().values_list("id", flat=True)[:SWEEP]):
            transitions.remove(job_id)

    def _settle_dead_workers(self, now: datetime) -> None:
        for job in Job.objects.orphaned(self.worker, now)[:SWEEP]:
            self.settle_foreign(job, f"worker [{job.locked_by}] died")

    def settle_foreign(self, job: Job, reason: str) -> None:
        """Kill-settle a running job whose worker is gone; end its process if it is here."""
        if job.locked_hostname == self.hostname and job.pid and job.started_at:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(job.pid)
                if process.create_time() >= job.started_at.timestamp() - 1:
                    for kill in (os.killpg, os.kill):
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            kill(job.pid, signal.SIGKILL)
        if transitions.settle(job.id, reason):
            log.error("settled job [%s] as killed: %s", job.id, reason)


def timed_out(job: Job, slot: Slot, now: datetime) -> bool:
    """The job has a ``timeout``, has run longer (since it was picked) and has not ended."""
    return bool(
        job.timeout
        and job.started_at
        and job.started_at <= now - timedelta(seconds=job.timeout)
        and slot.done is None
        and slot.killing is None
    )
