"""The worker: a supervisor that picks jobs and runs each in a forked process.

Main loop: collect reports from job processes (pipes), settle ended processes, pick new
jobs while slots are free, and every ``CORE4_WORKER_TICK`` seconds do the housekeeping —
heartbeat, kill requests, non-stop and zombie flags, remove sweep, jobs of dead workers,
halt/pause switches. The holder of the summary lease also sends the summary every
``CORE4_SUMMARY_INTERVAL`` seconds and runs the daily commands.

It sleeps in ``select()`` on the job pipes, a self-pipe for signals and, on PostgreSQL,
a ``LISTEN`` connection that enqueue transactions ``NOTIFY``; on SQLite it polls every
``CORE4_WORKER_POLL`` seconds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psutil
from django.conf import settings
from django.core.management import call_command, get_commands
from django.db import close_old_connections, connection, transaction
from django.db.models import Min, Q

from core4site.ids import utcnow
from jobqueue import transitions
from jobqueue.errors import JobError
from jobqueue.job import SETTINGS
from jobqueue.models import RUNNING, WAITING, Control, Job, Lease, WorkerRecord
from jobqueue.runner import run_child
from jobqueue.signals import queue_summary
from jobqueue.summary import summary_rows

log = logging.getLogger(__name__)

SUMMARY_LEASE = "summary"
DAILY_KEY = "daily"


class WorkerExists(RuntimeError):
    pass


@dataclass
class Slot:
    """One job process."""

    job_id: str
    pid: int
    fd: int
    output: int
    buffer: bytes = b""
    started: bool = False
    done: dict | None = None
    eof: bool = False
    exit_status: int | None = None
    killing: str | None = None
    pending: list[dict] = field(default_factory=list)


class Worker:
    def __init__(self, identifier: str, concurrency: int | None = None):
        if not identifier or len(identifier) > 255 or any(c.isspace() for c in identifier):
            raise ValueError(f"invalid worker identifier [{identifier}]")
        self.identifier = identifier
        self.concurrency = concurrency or settings.CORE4_WORKER_CONCURRENCY
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.hostname = transitions.hostname()
        self.slots: dict[int, Slot] = {}
        self.unsettled: list[Slot] = []
        self.daily_pids: list[int] = []
        self.stopping = False
        self.stop_deadline: float | None = None
        self.paused: bool = False
        self.paused_projects: list[str] = []
        self.wanted = True
        self.next_tick = 0.0
        self.next_summary = 0.0
        self.next_due: float | None = None
        self.started = utcnow()
        self.listener = None
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.postgres = connection.vendor == "postgresql"

    # --- lifecycle ------------------------------------------------------------------------
    def request_stop(self, *_args: Any) -> None:
        """SIGTERM/SIGINT/halt: stop picking, let running jobs end within the grace period."""
        if not self.stopping:
            self.stopping = True
            self.stop_deadline = time.monotonic() + settings.CORE4_WORKER_GRACE
        with contextlib.suppress(OSError):
            os.write(self.wake_w, b"x")

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    def startup(self) -> None:
        now = utcnow()
        self.started = now
        with transaction.atomic():
            record = WorkerRecord.objects.select_for_update().filter(pk=self.identifier).first()
            if record is not None and record.stopped is None and self._alive_elsewhere(record):
                raise WorkerExists(
                    f"worker [{self.identifier}] is running already "
                    f"(pid {record.pid} on {record.hostname})"
                )
            WorkerRecord.objects.update_or_create(
                identifier=self.identifier,
                defaults={
                    "hostname": self.hostname,
                    "pid": os.getpid(),
                    "started": now,
                    "heartbeat": now,
                    "stopped": None,
                    "concurrency": self.concurrency,
                    "running": [],
                },
            )
        transitions.recount()
        # jobs this identifier left running in an earlier life cannot be ours
        for job in Job.objects.filter(journaled=False, state=RUNNING, locked_by=self.identifier):
            self._settle_foreign(job, f"worker [{self.identifier}] restarted")
        if self.postgres:
            self._listen()
        log.info("start worker [%s] on %s, concurrency %d", self.identifier, self.hostname,
                 self.concurrency)  # fmt: skip

    def _alive_elsewhere(self, record: WorkerRecord) -> bool:
        if record.heartbeat < utcnow() - timedelta(seconds=settings.CORE4_WORKER_TIMEOUT):
            return False
        if record.hostname != self.hostname:
            return True
        return record.pid != os.getpid() and psutil.pid_exists(record.pid)

    def _listen(self) -> None:
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        self.listener = psycopg.connect(**params, autocommit=True)
        self.listener.execute(f"LISTEN {transitions.NOTIFY_CHANNEL}")

    def shutdown(self) -> None:
        for slot in list(self.slots.values()):
            self._kill_process(slot, "worker shutdown: grace period over")
        deadline = time.monotonic() + 5
        while self.slots and time.monotonic() < deadline:
            self._wait(0.05)
            self._reap()
        self._retry_unsettled()
        with contextlib.suppress(Exception):
            Lease.objects.filter(name=SUMMARY_LEASE, holder=self.identifier).update(
                expires=utcnow()
            )
            WorkerRecord.objects.filter(pk=self.identifier, pid=os.getpid()).update(
                stopped=utcnow(), running=[]
            )
        if self.listener is not None:
            with contextlib.suppress(Exception):
                self.listener.close()
        for fd in (self.wake_r, self.wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        log.info("worker [%s] stopped", self.identifier)

    def run(self, until=None, timeout: float | None = None) -> None:
        """Run until stopped (signal, halt) — or, for tests, until ``until()`` is true."""
        self.startup()
        limit = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                self.step()
                if self.stopping and not self.slots:
                    break
                if until is not None and until():
                    break
                if limit is not None and time.monotonic() > limit:
                    raise TimeoutError(f"worker [{self.identifier}] run timed out")
        finally:
            self.shutdown()

    def step(self) -> None:
        """One turn of the loop; nothing a job or the database does may end the worker."""
        try:
            self._reap()
            now = time.monotonic()
            if now >= self.next_tick:
                self.next_tick = now + settings.CORE4_WORKER_TICK
                self.tick()
                self.wanted = True  # fallback: look for work at least once per tick
            if now >= self.next_summary:
                self.next_summary = now + settings.CORE4_SUMMARY_INTERVAL
                self.summary()
            if self.next_due is not None and now >= self.next_due:
                self.next_due = None
                self.wanted = True
            if self.stopping and self.stop_deadline and now > self.stop_deadline:
                for slot in list(self.slots.values()):
                    self._kill_process(slot, "worker stopped: grace period over")
            if not self.postgres:
                self.wanted = True
            if self.wanted and not self.stopping:
                self.fill()
        except Exception:
            log.exception("worker [%s]: step failed, retrying", self.identifier)
            self._recover()
            time.sleep(0.5)
        self._wait(self._timeout())

    def _recover(self) -> None:
        with contextlib.suppress(Exception):
            if connection.in_atomic_block:
                return
            connection.close()
        close_old_connections()

    # --- picking ----------------------------------------------------------------------------
    def fill(self) -> None:
        self.wanted = False
        self._switches()  # a pause counts from the moment it is set
        if self.paused:
            return
        while len(self.slots) < self.concurrency and not self.stopping:
            job = transitions.pick(self.identifier, paused=self.paused_projects)
            if job is None:
                self._schedule_due()
                return
            self.launch(job)

    def _schedule_due(self) -> None:
        if not self.postgres:
            return
        due = (
            Job.objects.filter(journaled=False, state__in=WAITING, query_at__isnull=False)
            .aggregate(at=Min("query_at"))
            .get("at")
        )
        if due is not None:
            delay = max((due - utcnow()).total_seconds(), 0.0) + 0.01
            self.next_due = time.monotonic() + delay

    def launch(self, job: Job) -> None:
        """Fork the job's process from this already initialised worker."""
        data = {
            "id": job.id,
            "name": job.name,
            "args": job.args,
            "trial": job.trial,
            "attempts_left": job.attempts_left,
            "enqueued": {
                "at": job.enqueued_at.isoformat(),
                "by": job.enqueued_by,
                "hostname": job.enqueued_hostname,
                "parent_id": job.parent_id,
                "child_id": job.child_id,
            },
            **{key: getattr(job, key) for key in SETTINGS},
        }
        read_fd, write_fd = os.pipe()
        output = _tmpfile()
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in (read_fd, write_fd, output):
                os.close(fd)
            log.error("cannot fork for job [%s]: %s", job.id, exc)
            self._settle(job.id, f"worker cannot start a process: {exc}")
            return
        if pid == 0:  # the job process
            os.close(read_fd)
            run_child(data, write_fd, output, keep=(self.listener,))
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.slots[read_fd] = Slot(job_id=job.id, pid=pid, fd=read_fd, output=output)
        log.info("launching [%s] with [%s] in pid %d", job.name, job.id, pid)

    # --- job processes ---------------------------------------------------------------------
    def _timeout(self) -> float:
        if any(slot.eof for slot in self.slots.values()):
            return 0.005
        now = time.monotonic()
        limit = min(self.next_tick, self.next_summary) - now
        if self.next_due is not None:
            limit = min(limit, self.next_due - now)
        if not self.postgres:
            limit = min(limit, settings.CORE4_WORKER_POLL)
        if self.wanted and len(self.slots) < self.concurrency:
            limit = 0
        return max(limit, 0.0)

    def _wait(self, timeout: float) -> None:
        fds = [self.wake_r, *self.slots]
        if self.listener is not None:
            fds.append(self.listener.fileno())
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            return
        for fd in ready:
            if fd == self.wake_r:
                with contextlib.suppress(OSError):
                    os.read(self.wake_r, 4096)
            elif self.listener is not None and fd == self.listener.fileno():
                try:
                    list(self.listener.notifies(timeout=0))
                    self.wanted = True
                except Exception:
                    log.exception("LISTEN connection lost; reconnecting")
                    with contextlib.suppress(Exception):
                        self.listener.close()
                    self.listener = None
                    with contextlib.suppress(Exception):
                        self._listen()
            elif fd in self.slots:
                self._read(self.slots[fd])

    def _read(self, slot: Slot) -> None:
        while True:
            try:
                chunk = os.read(slot.fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                slot.eof = True
                break
            slot.buffer += chunk
        *lines, slot.buffer = slot.buffer.split(b"\n")
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                log.error("job [%s]: unreadable report %r", slot.job_id, line[:200])
                continue
            self._handle(slot, message)

    def _handle(self, slot: Slot, message: dict) -> None:
        kind = message.get("kind")
        try:
            if kind == "started":
                slot.started = True
                transitions.start(slot.job_id, self.identifier, slot.pid)
            elif kind == "progress":
                transitions.progress(
                    slot.job_id, self.identifier, float(message["value"]), str(message["message"])
                )
            elif kind == "done":
                slot.done = message
        except JobError as exc:
            log.warning("job [%s]: %s", slot.job_id, exc)

    def _reap(self) -> None:
        for slot in list(self.slots.values()):
            if slot.exit_status is None:
                try:
                    pid, status = os.waitpid(slot.pid, os.WNOHANG)
                except ChildProcessError:
                    pid, status = slot.pid, 0
                if pid == 0:
                    continue
                slot.exit_status = status
            if not slot.eof:
                self._read(slot)
                if not slot.eof:
                    continue  # a subprocess of the job still holds the pipe
            del self.slots[slot.fd]
            os.close(slot.fd)
            self._finalize(slot)
            self.wanted = True

    def _finalize(self, slot: Slot) -> None:
        stdout = _read_output(slot.output)
        os.close(slot.output)
        slot.pending.append({"stdout": stdout})
        self.unsettled.append(slot)
        self._retry_unsettled()

    def _retry_unsettled(self) -> None:
        for slot in list(self.unsettled):
            try:
                self._settle_slot(slot)
            except JobError as exc:
                log.warning("job [%s]: %s", slot.job_id, exc)
            except Exception:
                log.exception("job [%s]: cannot record its end yet; retrying", slot.job_id)
                self._recover()
                continue
            self.unsettled.remove(slot)

    def _settle_slot(self, slot: Slot) -> None:
        stdout = slot.pending[-1]["stdout"]
        done = slot.done
        worker = self.identifier
        if done is None or slot.killing:
            reason = slot.killing or _death(slot.exit_status)
            transitions.killed(slot.job_id, worker, reason, stdout)
        elif done["outcome"] == "complete":
            transitions.complete(slot.job_id, worker, stdout)
        elif done["outcome"] == "defer":
            transitions.defer(slot.job_id, worker, done.get("message", ""), stdout)
        elif done["outcome"] == "failed_start":
            transitions.failed_start(slot.job_id, worker, done["error"], stdout)
        else:
            transitions.fail(slot.job_id, worker, done["error"], stdout)

    def _kill_process(self, slot: Slot, reason: str) -> None:
        slot.killing = slot.killing or reason
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(slot.pid, signal.SIGKILL)

    def _settle(self, job_id: str, reason: str) -> None:
        try:
            transitions.killed(job_id, self.identifier, reason)
        except JobError as exc:
            log.warning("job [%s]: %s", job_id, exc)

    def _settle_foreign(self, job: Job, reason: str) -> None:
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

    # --- housekeeping ------------------------------------------------------------------------
    def tick(self) -> None:
        now = utcnow()
        mine = {slot.job_id: slot for slot in self.slots.values()}
        WorkerRecord.objects.filter(pk=self.identifier).update(
            heartbeat=now, running=sorted(mine), stopped=None
        )
        self._switches()
        running = Job.objects.filter(journaled=False, state=RUNNING, locked_by=self.identifier)
        for job in running.only(
            "id", "killed_at", "wall_time", "wall_at", "zombie_time", "zombie_at",
            "started_at", "heartbeat", "pid", "locked_hostname", "name",
        ):  # fmt: skip
            slot = mine.get(job.id)
            if slot is None:
                if not any(s.job_id == job.id for s in self.unsettled):
                    self._settle_foreign(job, "job not known to its worker")
                continue
            if job.killed_at is not None:
                self._kill_process(slot, "JobKilledByWorker")
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
        self._sweep_removed()
        self._settle_dead_workers(now)
        self._reap_daily()
        self._retry_unsettled()

    def _switches(self) -> None:
        keys = dict(
            Control.objects.filter(Q(key__startswith="pause") | Q(key="halt")).values_list(
                "key", "created"
            )
        )
        halt = keys.get("halt")
        if halt is not None and halt >= self.started and not self.stopping:
            log.warning("worker [%s]: halt requested", self.identifier)
            self.request_stop()
        self.paused = "pause" in keys
        self.paused_projects = sorted(k.split(":", 1)[1] for k in keys if k.startswith("pause:"))

    def _sweep_removed(self) -> None:
        ids = (
            Job.objects.filter(journaled=False, removed_at__isnull=False)
            .exclude(state=RUNNING)
            .values_list("id", flat=True)[:200]
        )
        for job_id in list(ids):
            transitions.remove(job_id)

    def _settle_dead_workers(self, now) -> None:
        limit = now - timedelta(seconds=settings.CORE4_WORKER_TIMEOUT)
        alive = WorkerRecord.objects.filter(stopped=None, heartbeat__gte=limit).values("identifier")
        orphans = (
            Job.objects.filter(journaled=False, state=RUNNING)
            .exclude(locked_by__in=alive)
            .exclude(locked_by=self.identifier)
        )
        for job in orphans[:200]:
            self._settle_foreign(job, f"worker [{job.locked_by}] died")

    # --- the lease holder's duties -----------------------------------------------------------
    def hold_lease(self) -> bool:
        now = utcnow()
        ttl = timedelta(seconds=max(3.0, 3 * settings.CORE4_SUMMARY_INTERVAL))
        taken = (
            Lease.objects.filter(name=SUMMARY_LEASE)
            .filter(Q(holder=self.identifier) | Q(expires__lt=now))
            .update(holder=self.identifier, expires=now + ttl)
        )
        if taken:
            return True
        _, created = Lease.objects.get_or_create(
            name=SUMMARY_LEASE, defaults={"holder": self.identifier, "expires": now + ttl}
        )
        return created

    def summary(self) -> None:
        if not self.hold_lease():
            return
        queue_summary.send(sender=Worker, rows=summary_rows(), author=transitions.os_user())
        self._daily()

    def _daily(self) -> None:
        commands = settings.CORE4_WORKER_DAILY_COMMANDS
        if not commands:
            return
        now = utcnow()
        with transaction.atomic():
            row, _ = Control.objects.select_for_update().get_or_create(
                key=DAILY_KEY, defaults={"value": None}
            )
            last = row.value and row.value.get("at")
            if last and now.timestamp() - last < 86400:
                return
            row.value = {"at": now.timestamp(), "by": self.identifier}
            row.save(update_fields=["value"])
        known = get_commands()
        for name in commands:
            if name not in known:
                log.warning("daily command [%s] does not exist: skipped", name)
                continue
            self._run_detached(name)

    def _run_detached(self, command: str) -> None:
        """Run a management command in a forked process (the loop must not wait for it)."""
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                from jobqueue.runner import detach_inherited

                detach_inherited(self.listener)
                call_command(command)
            except BaseException:  # noqa: BLE001
                log.exception("daily command [%s] failed", command)
                code = 1
            finally:
                os._exit(code)
        log.info("daily command [%s] started in pid %d", command, pid)
        self.daily_pids.append(pid)

    def _reap_daily(self) -> None:
        for pid in list(self.daily_pids):
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            self.daily_pids.remove(pid)


def _tmpfile() -> int:
    fd, path = tempfile.mkstemp(prefix="core4job-", dir=settings.CORE4_WORKER_TMP)
    os.unlink(path)
    return fd


def _read_output(fd: int) -> str:
    limit = settings.CORE4_STDOUT_MAX
    size = os.fstat(fd).st_size
    start = max(size - limit, 0)
    data = os.pread(fd, size - start, start) if size else b""
    text = data.decode("utf-8", errors="replace")
    if start:
        text = f"[… {start} bytes cut …]\n" + text
    return text.replace("\x00", "")


def _death(status: int | None) -> str:
    if status is None:
        return "job process lost"
    if os.WIFSIGNALED(status):
        return f"job process killed by signal {os.WTERMSIG(status)}"
    return f"job process exited with code {os.waitstatus_to_exitcode(status)} without result"
