"""The worker: a supervisor that picks jobs and runs each in a forked process.

Main loop: collect reports from job processes (pipes), then record them, settle ended
processes and pick jobs for free slots in one transaction per turn (``transitions.batch``:
one commit for all of it), fork the picked jobs (through the fork server,
:mod:`jobqueue.forkserver`), and every ``CORE4_WORKER_TICK`` seconds do the housekeeping —
heartbeat, kill requests, non-stop and zombie flags, remove sweep, jobs of dead workers,
halt/pause switches. The holder of the summary lease also sends the summary every
``CORE4_SUMMARY_INTERVAL`` seconds and runs the daily commands.

It sleeps in ``select()`` on the job pipes, the fork server's socket, a self-pipe for
signals and, on PostgreSQL, a ``LISTEN`` connection that enqueue transactions ``NOTIFY``;
on SQLite it polls every
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

from core4api.ids import utcnow
from jobqueue import transitions
from jobqueue.errors import JobError
from jobqueue.forkserver import ForkServer
from jobqueue.job import SETTINGS
from jobqueue.models import RUNNING, WAITING, Control, Job, Lease, WorkerRecord
from jobqueue.runner import run_child
from jobqueue.signals import queue_summary
from jobqueue.summary import summary_rows

log = logging.getLogger(__name__)

SUMMARY_LEASE = "summary"
#: Exit status of a job process whose fork server died before reporting it.
LOST = -1
DAILY_KEY = "daily"


class WorkerExists(RuntimeError):
    pass


@dataclass
class Slot:
    """One job process."""

    job_id: str
    pid: int | None  # None until the fork server told it
    fd: int
    output: int
    buffer: bytes = b""
    started: bool = False
    done: dict | None = None
    eof: bool = False
    exit_status: int | None = None
    killing: str | None = None
    pending: list[dict] = field(default_factory=list)
    server: ForkServer | None = None  # the fork server that forked it (None: the worker)
    data: dict | None = None  # what the job process was started with
    heard: bool = False  # the job process wrote to its pipe
    #: reported, not yet recorded (the next batch records them)
    start_due: bool = False
    progress_due: tuple[float, str] | None = None
    #: size of the output file when it was last copied into ``Job.stdout``
    output_flushed: int = 0


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
        self.forkserver: ForkServer | None = None
        self.awaiting_pid: list[Slot] = []  # spawned by the fork server, in request order
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
        self._forkserver()
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

    def _forkserver(self) -> ForkServer | None:
        """The running fork server (started, or restarted if it died), or None: fork here."""
        if not settings.CORE4_WORKER_FORKSERVER:
            return None
        if self.forkserver is not None:
            if self.forkserver.alive:
                return self.forkserver
            self.forkserver.reap()  # the dead one, if it was not reaped yet
        # the server must not hold the worker's pipes and files open (a restarted one
        # would otherwise keep them open for the jobs it forks)
        inherited = [self.wake_r, self.wake_w]
        for slot in self.slots.values():
            inherited += [slot.fd, slot.output]
        try:
            self.forkserver = ForkServer(keep=(self.listener,), close=inherited)
        except OSError as exc:
            log.warning("cannot start a fork server (%s): forking job processes here", exc)
            self.forkserver = None
        return self.forkserver

    def shutdown(self) -> None:
        for slot in list(self.slots.values()):
            self._kill_process(slot, "worker shutdown: grace period over")
        deadline = time.monotonic() + 5
        while self.slots and time.monotonic() < deadline:
            self._wait(0.05)
            self._reap()
        with contextlib.suppress(Exception):
            self.record(pick=False)
        if self.forkserver is not None:
            self.forkserver.close()
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
            self.record()
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

    # --- recording and picking ------------------------------------------------------------
    def record(self, pick: bool = True) -> None:
        """Record what the job processes reported and settle ended ones — in one database
        transaction (``transitions.batch``: one commit, one WAL flush, for everything that
        came in since the last turn) — then fill free slots and fork the picked jobs.

        A transition that is refused (``JobError``, e.g. a job settled meanwhile by someone
        else) is logged and skipped. If the transaction fails, nothing is marked done and
        the next turn tries again.
        """
        pending = [*self.slots.values(), *self.unsettled]
        starts = [slot for slot in pending if slot.start_due]
        progress = [slot for slot in pending if slot.progress_due]
        settle = list(self.unsettled)
        free = 0
        if pick and self.wanted and not self.stopping:
            free = max(self.concurrency - len(self.slots), 0)
        if not (starts or progress or settle or free):
            return
        ids = [slot.job_id for slot in (*starts, *progress, *settle)]
        picked: list[Job] = []
        busy: set[str] = set()
        with transitions.batch(ids):
            for slot in starts:
                self._transition(slot, transitions.start, slot.job_id, self.identifier, slot.pid)
            for slot in progress:
                value, message = slot.progress_due
                transitions.progress(slot.job_id, self.identifier, value, message)
            for slot in settle:
                self._transition(slot, self._settle_slot, slot)
            if free:
                picked = self._pick(free, busy)
        for slot in starts:
            slot.start_due = False
        for slot in progress:
            slot.progress_due = None
        for slot in settle:
            self.unsettled.remove(slot)
        if free:
            # a name another worker was picking at that moment: look again next turn
            self.wanted = bool(busy)
        self.launch(*picked)

    def _transition(self, slot: Slot, func, *args) -> None:
        try:
            func(*args)
        except JobError as exc:
            log.warning("job [%s]: %s", slot.job_id, exc)

    def _pick(self, free: int, busy: set[str]) -> list[Job]:
        """Claim up to ``free`` jobs (inside :meth:`record`'s batch: never waiting)."""
        self._switches()  # a pause counts from the moment it is set
        if self.paused:
            return []
        picked = []
        while len(picked) < free and not self.stopping:
            job = transitions.pick(self.identifier, paused=self.paused_projects, busy=busy)
            if job is None:
                self._schedule_due()
                break
            picked.append(job)
        return picked

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

    def launch(self, *jobs: Job) -> None:
        """Start a process per job: through the fork server (the pids arrive later), or
        forked from this already initialised worker."""
        for job in jobs:
            self._spawn(_job_data(job))
            log.info("launching [%s] with [%s]", job.name, job.id)

    def _spawn(self, data: dict) -> None:
        for retry in (False, True):
            server = self._forkserver()
            read_fd, write_fd = os.pipe()
            output = _tmpfile()
            try:
                if server is not None:
                    server.spawn(data, write_fd, output)
                    pid = None
                else:
                    pid = os.fork()
                    if pid == 0:  # the job process
                        os.close(read_fd)
                        run_child(data, write_fd, output, keep=(self.listener,))
            except OSError as exc:
                for fd in (read_fd, write_fd, output):
                    os.close(fd)
                if server is not None and not server.alive and not retry:
                    continue  # the server died since the last job: ask a new one
                log.error("cannot start a process for job [%s]: %s", data["id"], exc)
                self._settle(data["id"], f"worker cannot start a process: {exc}")
                return
            os.close(write_fd)
            os.set_blocking(read_fd, False)
            slot = Slot(job_id=data["id"], pid=pid, fd=read_fd, output=output, server=server)
            slot.data = data
            self.slots[read_fd] = slot
            if pid is None:
                self.awaiting_pid.append(slot)
            return

    def _server_messages(self) -> None:
        """Pids of spawned job processes (in request order) and exit statuses."""
        server = self.forkserver
        if server is None:
            return
        server.poll()
        while server.pids and self.awaiting_pid:
            self._pid_known(self.awaiting_pid.pop(0), server.pids.pop(0))
        if not server.alive:  # requests it never answered: their pipes tell when they end
            self.awaiting_pid = [s for s in self.awaiting_pid if s.server is not server]

    def _pid_known(self, slot: Slot, pid: int) -> None:
        if slot.pid is None:
            slot.pid = pid
            if slot.killing:
                self._kill_process(slot, slot.killing)

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
        server = self.forkserver if self.forkserver is not None and self.forkserver.alive else None
        if server is not None:
            fds.append(server.fileno())
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
            elif server is not None and fd == server.fileno():
                self._server_messages()
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
            slot.heard = True
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
                pid = message.get("pid")
                if isinstance(pid, int) and pid > 0:
                    self._pid_known(slot, pid)
                slot.started = slot.start_due = True
            elif kind == "progress":
                slot.progress_due = (float(message["value"]), str(message["message"]))
            elif kind == "done":
                slot.done = message
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("job [%s]: bad report %r (%s)", slot.job_id, message, exc)

    def _reap(self) -> None:
        self._server_messages()
        for slot in list(self.slots.values()):
            if slot.exit_status is None:
                status = self._exit_status(slot)
                if status is None:
                    continue
                slot.exit_status = status
            if not slot.eof:
                self._read(slot)
                if not slot.eof:
                    continue  # a subprocess of the job still holds the pipe
            del self.slots[slot.fd]
            os.close(slot.fd)
            if self._never_started(slot):
                os.close(slot.output)
                log.warning("job [%s]: its fork server died before starting it; again",
                            slot.job_id)  # fmt: skip
                self._spawn(slot.data)
                continue
            self._finalize(slot)
            self.wanted = True

    @staticmethod
    def _never_started(slot: Slot) -> bool:
        """The fork server died with the request: no pid, not a word on the pipe (a job
        process says ``started`` before it runs the job), so the job never ran."""
        return (
            slot.server is not None
            and not slot.server.alive
            and slot.pid is None
            and not slot.heard
            and not slot.killing
            and slot.data is not None
        )

    def _exit_status(self, slot: Slot) -> int | None:
        """The ended job process's wait status; None while it runs; ``LOST`` if unknowable."""
        if slot.server is None:
            try:
                pid, status = os.waitpid(slot.pid, os.WNOHANG)
            except ChildProcessError:
                return 0
            return None if pid == 0 else status
        status = None if slot.pid is None else slot.server.exits.pop(slot.pid, None)
        if status is None and not slot.server.alive and slot.eof:
            return LOST  # its fork server died: the closed pipe says it ended
        return status

    def _finalize(self, slot: Slot) -> None:
        """The process ended: its end is recorded by the next :meth:`record`."""
        stdout = _read_output(slot.output)
        os.close(slot.output)
        slot.pending.append({"stdout": stdout})
        self.unsettled.append(slot)

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
        if not slot.pid or slot.exit_status is not None:
            return  # not known yet (killed once it is; never 0: our own group) or ended
        if slot.server is not None and slot.pid in slot.server.exits:
            return  # ended and reaped: the pid may belong to someone else by now
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
        self._flush_output(mine)
        self._sweep_removed()
        self._settle_dead_workers(now)
        self._reap_daily()

    def _flush_output(self, slots: dict[str, Slot]) -> None:
        """Copy the output of running jobs into ``Job.stdout`` as it grows (once per tick).

        Clients follow it live (``/job/follow``, ``/job/log``, the dashboard); the final copy
        is written by the job's last transition. Not a transition: no state, no event.
        """
        for job_id, slot in slots.items():
            if slot.done is not None or slot.eof:
                continue  # finishing: the last transition writes the output
            try:
                size = os.fstat(slot.output).st_size
            except OSError:
                continue
            if size == slot.output_flushed:
                continue
            Job.objects.filter(
                pk=job_id, journaled=False, state=RUNNING, locked_by=self.identifier
            ).update(stdout=_read_output(slot.output))
            slot.output_flushed = size

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
            except BaseException:
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


def _job_data(job: Job) -> dict:
    """What the job process needs (``runner.run_child``): JSON values only."""
    return {
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
    if status is None or status == LOST:
        return "job process lost"
    if os.WIFSIGNALED(status):
        return f"job process killed by signal {os.WTERMSIG(status)}"
    return f"job process exited with code {os.waitstatus_to_exitcode(status)} without result"
