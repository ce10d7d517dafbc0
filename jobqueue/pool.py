"""The warm-process pool: job processes that run one job after another (opt-in).

Fork per job (the default) pays a fork, a process set-up and the exit of a Django-sized
process for every job. For many small jobs a worker can instead run them in **pool
processes**: forked by the fork server like job processes, they stay and take job after
job (a job class sets ``run_mode = "pool"``, or ``manage.py worker --pool`` runs every job
so). Everything else is the same as in fork mode: the job gets its own report pipe and
output file (passed with ``SCM_RIGHTS`` on the pool process's own socket, exactly the three
descriptors a ``spawn`` passes to the fork server), reports ``started``/``progress``/``done``
on it in the one message format of :class:`jobqueue.runner.Reporter`, and the worker records
the same transitions. A pool process closes the report pipe after ``done``: the closed pipe
plus ``done`` is how the worker knows the job ended (a fork-mode job process ends instead).

A kill (requested, a stop, the grace period) SIGKILLs the pool process with its process
group; the job is settled from its exit status as in fork mode, and the process is not
reused — a new one is forked when a job needs it. A pool process is retired (its socket
closed: it exits) after ``CORE4_WORKER_POOL_MAX_JOBS`` jobs, or when its resident memory
exceeds ``CORE4_WORKER_POOL_MAX_MEMORY`` MiB after a job. The fork server reaps pool
processes and SIGKILLs them when the worker is gone, as it does job processes.

Protocol on a pool process's ``SOCK_SEQPACKET`` socket, one message per packet:

* pool process → worker: ``ready <pid>`` once, when it is up;
* worker → pool process: ``run`` with three descriptors: report pipe (write end), output
  file, job data (JSON, as the fork server's ``spawn``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from django.conf import settings

if TYPE_CHECKING:
    from jobqueue.forkserver import ForkServer

log = logging.getLogger(__name__)

FORK = "fork"
POOL = "pool"
RUN_MODES = (FORK, POOL)
MAX_MESSAGE = 64
#: Seconds a new pool process may take to say it is ready.
START_TIMEOUT = 10.0


@dataclass
class PoolProcess:
    """The worker's handle on one pool process."""

    sock: socket.socket
    server: ForkServer
    pid: int
    jobs: int = 0  # jobs handed to it
    busy: bool = False
    exit_status: int | None = None  # set once the fork server reported its end

    @property
    def alive(self) -> bool:
        return self.exit_status is None and self.server.alive

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Pool:
    """The pool processes of one worker: idle ones wait for a job, busy ones run one."""

    def __init__(self) -> None:
        self.idle: list[PoolProcess] = []
        self.busy: dict[int, PoolProcess] = {}
        #: retired (socket closed), end not yet reported by the fork server
        self.retired: dict[int, PoolProcess] = {}

    def __len__(self) -> int:
        return len(self.idle) + len(self.busy)

    def run(self, server: ForkServer, data: dict[str, Any], report_fd: int, output_fd: int):
        """Hand a job to an idle pool process (a new one if none is idle); its
        :class:`PoolProcess`. Raises ``OSError`` if no pool process could take it."""
        from jobqueue.forkserver import _data_file

        self.poll(server)
        proc = self._idle(server) or self._start(server)
        data_fd = _data_file(json.dumps(data).encode())
        try:
            socket.send_fds(proc.sock, [b"run"], [report_fd, output_fd, data_fd])
        except OSError:
            self._retire(proc)
            raise
        finally:
            os.close(data_fd)
        proc.busy = True
        proc.jobs += 1
        self.busy[proc.pid] = proc
        return proc

    def _idle(self, server: ForkServer) -> PoolProcess | None:
        while self.idle:
            proc = self.idle.pop()
            if proc.server is server and proc.alive:
                return proc
            self._retire(proc)
        return None

    def _start(self, server: ForkServer) -> PoolProcess:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            server.pool_process(theirs.fileno())
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        try:
            ours.settimeout(START_TIMEOUT)
            message = ours.recv(MAX_MESSAGE)
            ours.settimeout(None)
            kind, pid = message.split()
            if kind != b"ready":
                raise ValueError(message)
        except (OSError, ValueError) as exc:
            ours.close()
            raise OSError(f"pool process did not start: {exc!r}") from None
        log.info("pool process %d started", int(pid))
        return PoolProcess(sock=ours, server=server, pid=int(pid))

    def exit_status(self, proc: PoolProcess, eof: bool, done: bool) -> int | None:
        """The end of the job ``proc`` runs, as a job process's wait status: 0 once it
        reported ``done`` and closed its report pipe (the process lives on), the process's
        status if it died, ``processes.LOST`` if that cannot be known; None while it runs."""
        if proc.exit_status is None:
            status = proc.server.exits.pop(proc.pid, None)
            if status is not None:
                proc.exit_status = status
        if proc.exit_status is not None:
            return proc.exit_status
        if eof and done:
            return 0
        if eof and not proc.server.alive:
            from jobqueue.processes import LOST

            return LOST  # its fork server died: the closed pipe says the process ended
        return None

    def release(self, proc: PoolProcess, reuse: bool) -> None:
        """The job of ``proc`` was reaped: keep the process for the next job, or retire it
        (killed, ended, too many jobs, too much memory)."""
        self.busy.pop(proc.pid, None)
        proc.busy = False
        if proc.exit_status is not None:
            proc.close()
            return
        reason = ""
        if not reuse:
            reason = "killed"
        elif not proc.server.alive:
            reason = "its fork server is gone"
        elif proc.jobs >= settings.CORE4_WORKER_POOL_MAX_JOBS:
            reason = f"{proc.jobs} jobs run"
        else:
            rss = resident_mib(proc.pid)
            if rss is not None and rss > settings.CORE4_WORKER_POOL_MAX_MEMORY:
                reason = f"{rss:.0f} MiB resident"
        if reason:
            log.info("pool process %d retired: %s", proc.pid, reason)
            self._retire(proc)
        else:
            self.idle.append(proc)

    def _retire(self, proc: PoolProcess) -> None:
        proc.close()  # an idle pool process exits when its socket closes
        if proc.exit_status is None and proc.server.alive:
            self.retired[proc.pid] = proc

    def poll(self, server: ForkServer | None) -> None:
        """Take the fork server's reports of ended idle and retired pool processes."""
        if server is None:
            return
        for proc in [*self.idle, *self.retired.values()]:
            if proc.server is server and proc.pid in server.exits:
                proc.exit_status = server.exits.pop(proc.pid)
                self.retired.pop(proc.pid, None)
        for proc in self.idle:
            if not proc.alive:
                proc.close()  # ended, or its fork server is gone: it exits on the closed socket
        self.idle = [proc for proc in self.idle if proc.alive]
        self.retired = {pid: p for pid, p in self.retired.items() if p.server.alive}

    def close(self) -> None:
        """Close every pool process's socket (idle ones exit; the worker is leaving)."""
        for proc in [*self.idle, *self.busy.values()]:
            proc.close()
        self.idle.clear()
        self.busy.clear()
        self.retired.clear()


def run_mode(name: str, everything: bool = False) -> str:
    """How a job called ``name`` runs: ``pool`` if its class says ``run_mode = "pool"`` or
    ``everything`` (``worker --pool``), and the fork server is on; else ``fork``."""
    from jobqueue.errors import JobError
    from jobqueue.registry import resolve

    if not settings.CORE4_WORKER_FORKSERVER:
        return FORK  # pool processes are forked by the fork server
    if everything:
        return POOL
    try:
        return POOL if getattr(resolve(name), "run_mode", FORK) == POOL else FORK
    except JobError:
        return FORK  # not runnable: the job process says so (failed_start)


def resident_mib(pid: int) -> float | None:
    """Resident memory of a process in MiB (Linux ``/proc``), None if unknown."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- the pool process ---------------------------------------------------------------------------
def serve_pool(control_fd: int) -> NoReturn:
    """Entry point of a pool process (forked by the fork server); never returns."""
    from jobqueue.runner import detach_inherited, streams

    code = 0
    try:
        sock = socket.socket(fileno=control_fd)
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)  # a kill takes the job's own subprocesses too
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        detach_inherited()
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        streams()
        sock.send(b"ready %d" % os.getpid())
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 3)
            except InterruptedError:
                continue
            if not message:
                break  # the worker closed our socket (retired) or is gone
            if message != b"run" or len(fds) != 3:
                for fd in fds:
                    os.close(fd)
                continue
            _run_one(*fds, devnull=devnull)
    except BaseException:  # noqa: BLE001 - nothing may escape into the fork server's code
        code = 1
    finally:
        os._exit(code)


def _run_one(report_fd: int, output_fd: int, data_fd: int, devnull: int) -> None:
    """One job: output to its file, reports on its pipe, then back to idle."""
    from django.db import close_old_connections

    from jobqueue.forkserver import _read_data
    from jobqueue.runner import Reporter, before_exit, execute

    os.set_inheritable(report_fd, False)  # a subprocess left running must not hold it
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    try:
        execute(_read_data(data_fd), Reporter(report_fd))
    finally:
        for hook in before_exit:  # the announcements of what the job did, as at a job's exit
            with contextlib.suppress(BaseException):
                hook()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.suppress(Exception):
            close_old_connections()  # a job's connection is kept only if still usable
        os.close(report_fd)  # with ``done`` received: the worker settles the job
