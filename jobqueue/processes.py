"""The worker's job processes: spawn, reports, reap, output.

Each job runs in its own OS process so that it can be SIGKILLed without harming the
worker. The processes are forked by the fork server (:mod:`jobqueue.forkserver`; if it
cannot run, by the worker itself), report on a pipe (``started``, ``progress``, ``done``:
one JSON line each, see :mod:`jobqueue.runner`) and write their output to an unlinked
temporary file. Nothing here commits a report: the worker's turn records what the
:class:`Slot` s hold in one transaction (see :meth:`jobqueue.worker.Worker.record`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from jobqueue import transitions
from jobqueue.errors import JobError
from jobqueue.forkserver import ForkServer
from jobqueue.job import SETTINGS
from jobqueue.models import Job
from jobqueue.pool import FORK, POOL, Pool, PoolProcess
from jobqueue.runner import run_child

log = logging.getLogger(__name__)

#: Exit status of a job process whose fork server died before reporting it.
LOST = -1
#: The worker's connections a forked process must leave open (``runner.detach_inherited``),
#: asked for at each fork: the worker reconnects them.
Keep = Callable[[], tuple[Any, ...]]


@dataclass
class Slot:
    """One job process."""

    job_id: str
    pid: int | None  # None until the fork server told it
    fd: int
    output: int
    buffer: bytes = b""
    started: bool = False
    done: dict[str, Any] | None = None
    eof: bool = False
    exit_status: int | None = None
    killing: str | None = None
    #: killed because the worker stops (not on request): settled as ``interrupted``
    interrupted: bool = False
    #: killed for running longer than the job's ``timeout``: the reason, settled as a failure
    timed_out: str | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    server: ForkServer | None = None  # the fork server that forked it (None: the worker)
    data: dict[str, Any] | None = None  # what the job process was started with
    heard: bool = False  # the job process wrote to its pipe
    #: reported, not yet recorded (the next batch records them)
    start_due: bool = False
    #: a turn that was to record this job failed: it is recorded in a transaction of its
    #: own (``jobqueue.recording``), not before this ``time.monotonic()``
    apart_at: float | None = None
    #: when (``time.monotonic()``) the start was reported
    start_reported: float = 0.0
    progress_due: tuple[float, str] | None = None
    #: size of the output file when it was last copied into ``Job.stdout``
    output_flushed: int = 0
    #: the pool process running the job (``run_mode`` pool), None for a job process
    pool: PoolProcess | None = None
    #: which :meth:`Processes.launch` started it (jobs launched together: siblings)
    launch: int = 0


class Processes:
    """The job processes of one worker, by the read end of their report pipe.

    ``slots`` run (or ended, not yet reaped); ``unsettled`` ended and wait for the next
    turn to record their end. ``close``: the worker's descriptors the fork server must not
    hold.
    """

    def __init__(self, worker: str, keep: Keep, close: tuple[int, ...] = ()):
        self.worker = worker
        self.keep = keep
        self.close_in_server = close
        self.slots: dict[int, Slot] = {}
        self.unsettled: list[Slot] = []
        self.forkserver: ForkServer | None = None
        self.awaiting_pid: list[Slot] = []  # spawned by the fork server, in request order
        self.pool = Pool()
        self.launches = 0  # calls of launch()

    def __len__(self) -> int:
        return len(self.slots)

    # --- spawn -------------------------------------------------------------------------------
    def server(self) -> ForkServer | None:
        """The running fork server (started, or restarted if it died), or None: fork here."""
        if not settings.CORE4_WORKER_FORKSERVER:
            return None
        if self.forkserver is not None:
            if self.forkserver.alive:
                return self.forkserver
            self.forkserver.reap()  # the dead one, if it was not reaped yet
        # the server must not hold the worker's pipes and files open (a restarted one
        # would otherwise keep them open for the jobs it forks)
        inherited = list(self.close_in_server)
        for slot in self.slots.values():
            inherited += [slot.fd, slot.output]
        try:
            self.forkserver = ForkServer(keep=self.keep(), close=inherited)
        except OSError as exc:
            log.warning("cannot start a fork server (%s): forking job processes here", exc)
            self.forkserver = None
        return self.forkserver

    def launch(self, *jobs: Job) -> None:
        """Start a process per job: through the fork server (the pids arrive later), or
        forked from this already initialised worker; or hand it to a pool process
        (``Job.run_mode`` pool)."""
        self.launches += 1
        for job in jobs:
            self.spawn(job_data(job), job.run_mode or FORK)
            log.info("launching [%s] with [%s]", job.name, job.id)

    def siblings_running(self) -> bool:
        """A job launched together with one that ended (and is not recorded yet) still
        runs."""
        ended = {slot.launch for slot in self.unsettled}
        return any(slot.launch in ended for slot in self.slots.values())

    def spawn(self, data: dict[str, Any], mode: str = FORK) -> None:
        """Start one job process (or hand the job to a pool process); if that fails, the
        job is settled as killed."""
        for retry in (False, True):
            server = self.server()
            read_fd, write_fd = os.pipe()
            output = _tmpfile()
            proc = None
            try:
                if server is not None and mode == POOL:
                    proc = self.pool.run(server, data, write_fd, output)
                    pid = proc.pid
                elif server is not None:
                    server.spawn(data, write_fd, output)
                    pid = None
                else:
                    pid = os.fork()
                    if pid == 0:  # the job process
                        os.close(read_fd)
                        run_child(data, write_fd, output, keep=self.keep())
            except OSError as exc:
                for fd in (read_fd, write_fd, output):
                    os.close(fd)
                if server is not None and not retry and (mode == POOL or not server.alive):
                    continue  # the server or a pool process died since: ask a new one
                log.error("cannot start a process for job [%s]: %s", data["id"], exc)
                reason = f"worker cannot start a process: {exc}"
                try:
                    transitions.killed(data["id"], self.worker, reason)
                except JobError as error:
                    log.warning("job [%s]: %s", data["id"], error)
                return
            os.close(write_fd)
            os.set_blocking(read_fd, False)
            slot = Slot(job_id=data["id"], pid=pid, fd=read_fd, output=output, server=server)
            slot.launch = self.launches
            slot.data = data
            slot.pool = proc
            self.slots[read_fd] = slot
            if pid is None:
                self.awaiting_pid.append(slot)
            return

    # --- reports -----------------------------------------------------------------------------
    def fds(self) -> list[int]:
        """What to ``select()`` on: the report pipes and the fork server's socket."""
        fds = list(self.slots)
        server = self.forkserver
        if server is not None and server.alive:
            fds.append(server.fileno())
        return fds

    def ready(self, fd: int) -> bool:
        """Read what ``select()`` found on ``fd``; False if it is none of ours."""
        server = self.forkserver
        if server is not None and server.alive and fd == server.fileno():
            self.server_messages()
        elif fd in self.slots:
            self.read(self.slots[fd])
        else:
            return False
        return True

    def server_messages(self) -> None:
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
                self.kill(slot, slot.killing)

    def read(self, slot: Slot) -> None:
        """Take in what the job process wrote on its report pipe."""
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

    def _handle(self, slot: Slot, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        try:
            if kind == "started":
                pid = message.get("pid")
                if isinstance(pid, int) and pid > 0:
                    self._pid_known(slot, pid)
                slot.started = slot.start_due = True
                slot.start_reported = time.monotonic()
            elif kind == "progress":
                slot.progress_due = (float(message["value"]), str(message["message"]))
            elif kind == "done":
                slot.done = message
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("job [%s]: bad report %r (%s)", slot.job_id, message, exc)

    # --- reap --------------------------------------------------------------------------------
    def reap(self) -> bool:
        """Collect ended job processes into ``unsettled``; True if any ended."""
        self.server_messages()
        self.pool.poll(self.forkserver)
        ended = False
        for slot in list(self.slots.values()):
            if slot.exit_status is None:
                status = self._exit_status(slot)
                if status is None:
                    continue
                slot.exit_status = status
            if not slot.eof:
                self.read(slot)
                if not slot.eof:
                    continue  # a subprocess of the job still holds the pipe
            del self.slots[slot.fd]
            os.close(slot.fd)
            if slot.pool is not None:
                self.pool.release(slot.pool, reuse=not slot.killing)
            if _never_started(slot) and slot.data is not None:
                os.close(slot.output)
                log.warning("job [%s]: its fork server died before starting it; again",
                            slot.job_id)  # fmt: skip
                self.spawn(slot.data)
                continue
            slot.pending.append({"stdout": read_output(slot.output)})
            os.close(slot.output)
            self.unsettled.append(slot)
            ended = True
        return ended

    def _exit_status(self, slot: Slot) -> int | None:
        """The ended job process's wait status; None while it runs; ``LOST`` if unknowable."""
        if slot.pool is not None:
            return self.pool.exit_status(slot.pool, slot.eof, slot.done is not None)
        if slot.server is None:
            if slot.pid is None:
                return None  # never: a process forked here has its pid at once
            try:
                pid, status = os.waitpid(slot.pid, os.WNOHANG)
            except ChildProcessError:
                return 0
            return None if pid == 0 else status
        reported = None if slot.pid is None else slot.server.exits.pop(slot.pid, None)
        if reported is None and not slot.server.alive and slot.eof:
            return LOST  # its fork server died: the closed pipe says it ended
        return reported

    def settle(self, slot: Slot) -> None:
        """Record the end of a reaped job process (inside the worker's batch)."""
        stdout = slot.pending[-1]["stdout"]
        done = slot.done
        worker = self.worker
        if done is None and slot.interrupted:
            transitions.interrupted(slot.job_id, worker, slot.killing or "worker stopped", stdout)
        elif done is None and slot.timed_out:
            error = {"exception": slot.timed_out, "traceback": None}
            transitions.fail(slot.job_id, worker, error, stdout)
        elif done is None or (slot.killing and not slot.interrupted and not slot.timed_out):
            reason = slot.killing or _death(slot.exit_status)
            transitions.killed(slot.job_id, worker, reason, stdout)
        elif done["outcome"] == "complete":
            transitions.complete(slot.job_id, worker, stdout, done.get("result"))
        elif done["outcome"] == "defer":
            transitions.defer(slot.job_id, worker, done.get("message", ""), stdout)
        elif done["outcome"] == "failed_start":
            transitions.failed_start(slot.job_id, worker, done["error"], stdout)
        else:
            transitions.fail(slot.job_id, worker, done["error"], stdout)

    def kill(self, slot: Slot, reason: str, interrupted: bool = False) -> None:
        """SIGKILL the job process (once its pid is known); ``reason`` is recorded.

        ``interrupted``: the worker stops — the job is settled as a failure that is retried
        (``transitions.interrupted``), unless it was killed on request already or ends
        with a result anyway."""
        if slot.killing is None:
            slot.killing = reason
            slot.interrupted = interrupted
        if not slot.pid or slot.exit_status is not None:
            return  # not known yet (killed once it is; never 0: our own group) or ended
        if slot.server is not None and slot.pid in slot.server.exits:
            return  # ended and reaped: the pid may belong to someone else by now
        if slot.pool is not None and (slot.pool.exit_status is not None or slot.eof):
            return  # the pool process ended, or the job did (the process waits for the next)
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(slot.pid, signal.SIGKILL)

    def time_out(self, slot: Slot, seconds: int) -> None:
        """SIGKILL a job that ran longer than its ``timeout``: it is settled as a failure
        (``last_error`` "timeout after N s"), retried while it has attempts left — unless
        it was being killed already, or reports its end before the kill lands."""
        if slot.killing is None:
            slot.timed_out = f"timeout after {seconds} s"
            self.kill(slot, slot.timed_out)

    def kill_all(self, reason: str, interrupted: bool = False) -> None:
        for slot in list(self.slots.values()):
            self.kill(slot, reason, interrupted)

    def abandon(self) -> None:
        """Give up waiting for killed job processes that did not end (the worker exits):
        settle them with what they wrote, as ended."""
        for slot in list(self.slots.values()):
            del self.slots[slot.fd]
            with contextlib.suppress(OSError):
                os.close(slot.fd)
            slot.pending.append({"stdout": read_output(slot.output)})
            with contextlib.suppress(OSError):
                os.close(slot.output)
            log.error("job [%s]: its process (pid %s) did not end after SIGKILL", slot.job_id,
                      slot.pid)  # fmt: skip
            self.unsettled.append(slot)

    def close(self) -> None:
        """Stop the pool processes and the fork server (the jobs have ended by now)."""
        self.pool.close()
        if self.forkserver is not None:
            self.forkserver.close()

    # --- output ------------------------------------------------------------------------------
    def flush_output(self) -> None:
        """Copy the output of running jobs into ``Job.stdout`` as it grows (once per tick).

        Clients follow it live (``/job/follow``, ``/job/log``, the dashboard); the final copy
        is written by the job's last transition.
        """
        for slot in list(self.slots.values()):
            if slot.done is not None or slot.eof:
                continue  # finishing: the last transition writes the output
            try:
                size = os.fstat(slot.output).st_size
            except OSError:
                continue
            if size == slot.output_flushed:
                continue
            Job.objects.save_output(slot.job_id, self.worker, read_output(slot.output))
            slot.output_flushed = size


def _never_started(slot: Slot) -> bool:
    """The fork server died with the request: no pid, not a word on the pipe (a job
    process says ``started`` before it runs the job), so the job never ran. (A pool
    process that dies is not asked again: it may have died in the job's own code.)"""
    return (
        slot.pool is None
        and slot.server is not None
        and not slot.server.alive
        and slot.pid is None
        and not slot.heard
        and not slot.killing
        and slot.data is not None
    )


def job_data(job: Job) -> dict[str, Any]:
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


def read_output(fd: int) -> str:
    """The job's output file, its last ``CORE4_STDOUT_MAX`` bytes if longer."""
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
