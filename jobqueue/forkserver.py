"""A small process that forks the job processes on the worker's behalf.

Forking from the worker itself write-protects all of the worker's memory for as long as
the job process lives: every page the worker then writes (its database work, Django's
query compiler, reference counts all over the heap) is copied in a page fault. Measured
with no-op jobs: ~2,000 faults and ~6 ms of system time per job in the worker, more than
all of its own work. The fork server is forked from the worker once, at startup, with
Django loaded and no database connection in use, and then does nothing but fork: its own
memory stays untouched, so each fork costs it the page-table copy only — on the other
core, while the worker goes on with its transactions.

Protocol over a ``SOCK_SEQPACKET`` socket pair, one message per packet:

* worker → server: ``spawn`` with three file descriptors (``SCM_RIGHTS``): the write end
  of the job's report pipe, its output file and a file holding the job's data (JSON);
* worker → server: ``pool`` with one file descriptor, a socket: fork a reused job process
  of the warm pool (:mod:`jobqueue.pool`), which talks to the worker on that socket;
* server → worker: ``pid <pid>`` per ``spawn``, in order; ``exit <pid> <status>`` when a
  job process or a pool process ended (the server is its parent and reaps it; a spare
  that ends before it got a job is no job's: not reported).

Before it serves, the server imports every registered job module (``registry().modules``;
a heavy import, e.g. of a client library a job module imports inside a function it calls
at import, is paid once per worker instead of once per job) and freezes its heap
(``gc.freeze()``): the collector of a job process then never walks — and so never writes
and copies — the pages it inherited.

The server keeps one job process forked ahead, the *spare* (:class:`_Spare`), waiting for
a job: a ``spawn`` hands it the job's descriptors and the fork of the next spare follows
the reply, off the pick-up path (an idle worker's enqueue → job body p50 10.5 → 7.6–9.4 ms
on the benchmark machine). A pool process is forked as it is asked for.

The server leaves when the worker's end closes — also when the worker is SIGKILLed. It
SIGKILLs the job processes it forked and has not reaped yet (with their process groups, so
their subprocesses too) on the way out: a job process without its worker could report to
nobody, and nothing of the worker may outlive it. A worker that stops cleanly has ended
and reaped them by then; the jobs of a killed worker are settled like any job of a dead
worker.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import socket
import tempfile
from typing import Any

log = logging.getLogger(__name__)

MAX_MESSAGE = 256


def _data_file(payload: bytes) -> int:
    try:
        fd = os.memfd_create("core4job", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux
        fd, path = tempfile.mkstemp(prefix="core4job-data-")
        os.unlink(path)
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]
    return fd


def _read_data(fd: int) -> dict:
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0)
    os.close(fd)
    return json.loads(data)


class ForkServer:
    """The worker's handle on its fork server."""

    def __init__(self, keep: tuple = (), close: list[int] = ()):
        """Fork the server; ``keep``: objects holding the worker's connections (never
        closed, see ``runner.detach_inherited``); ``close``: the worker's descriptors the
        server and its job processes must not hold (job pipes and files)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # the server
            code = 0
            try:
                ours.close()
                for fd in close:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                _serve(theirs, keep)
            except BaseException:  # noqa: BLE001 - never back into the worker's code
                code = 1
            finally:
                os._exit(code)
        theirs.close()
        self.sock = ours
        self.pid = pid
        self.alive = True
        #: exit statuses reported and not yet taken, by job process id
        self.exits: dict[int, int] = {}
        #: pids of spawned job processes, in request order, not yet taken
        self.pids: list[int] = []

    def fileno(self) -> int:
        return self.sock.fileno()

    def spawn(self, data: dict, report_fd: int, output_fd: int) -> None:
        """Ask for a job process; its pid arrives in :attr:`pids` (in request order)."""
        data_fd = _data_file(json.dumps(data).encode())
        try:
            socket.send_fds(self.sock, [b"spawn"], [report_fd, output_fd, data_fd])
        except OSError:
            self._lost()
            raise
        finally:
            os.close(data_fd)

    def pool_process(self, control_fd: int) -> None:
        """Ask for a pool process talking on ``control_fd`` (it says its pid there)."""
        try:
            socket.send_fds(self.sock, [b"pool"], [control_fd])
        except OSError:
            self._lost()
            raise

    def poll(self) -> None:
        """Take every message waiting (pids, exit statuses), without blocking."""
        while self._receive():
            pass

    def _receive(self) -> bool:
        if not self.alive:
            return False
        try:
            message = self.sock.recv(MAX_MESSAGE, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except InterruptedError:
            return True
        except OSError:
            message = b""
        if not message:
            self._lost()
            return False
        kind, *values = message.split()
        if kind == b"pid":
            self.pids.append(int(values[0]))
        elif kind == b"exit":
            self.exits[int(values[0])] = int(values[1])
        return True

    def _lost(self) -> None:
        if self.alive:
            self.alive = False
            log.error("fork server (pid %d) is gone", self.pid)
        self.reap()

    def reap(self) -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, os.WNOHANG)

    def close(self) -> None:
        """End the server (job processes it forked run on; their exits go unreported)."""
        self.alive = False
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def _serve(sock: socket.socket, keep: tuple[Any, ...]) -> None:
    from jobqueue.runner import detach_inherited

    detach_inherited(*keep)
    preload()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # the worker decides; its socket closing ends us
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()  # forked, not reaped: their pids cannot be reused
    try:
        _loop(sock, wake_r, wake_w, children)
    finally:
        for pid in children:
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(OSError):
                    kill(pid, signal.SIGKILL)


def preload() -> None:
    """Import the registered job modules here, once, and freeze the heap before forking."""
    import gc
    import importlib

    from jobqueue.registry import registry

    for name in registry().modules:
        with contextlib.suppress(Exception):  # a broken one is logged by the registry
            importlib.import_module(name)
    gc.collect()
    gc.freeze()


class _Spare:
    """A job process forked ahead of its job: it waits on a socket of its own for the
    job's three descriptors, so that a ``spawn`` costs a message instead of a fork (~2 ms
    of a ~70 MB process) on the pick-up path; the next spare is forked after the reply.
    It holds no job's descriptors (it is forked when none is open here) and leaves when
    its socket closes — with the server, also when the server is SIGKILLed."""

    def __init__(self, close: tuple[Any, ...]):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.pid = os.fork()
        if self.pid == 0:
            try:
                ours.close()
                _leave_server(*close)
                _wait_for_job(theirs)  # runs the job: never returns
            finally:
                os._exit(1)
        theirs.close()
        self.sock = ours

    def hand(self, fds: list[int]) -> bool:
        """Give the spare its job's descriptors; False if it is gone."""
        try:
            socket.send_fds(self.sock, [b"job"], fds)
        except OSError:
            return False
        finally:
            self.sock.close()
        return True

    def close(self) -> None:
        self.sock.close()  # it sees the end of its socket and leaves


def _leave_server(*close: Any) -> None:
    """In a process forked here: drop the server's socket, self-pipe and wake-up fd."""
    signal.set_wakeup_fd(-1)
    for item in close:
        with contextlib.suppress(OSError):
            item.close() if hasattr(item, "close") else os.close(item)


def _wait_for_job(sock: socket.socket) -> None:
    try:
        _, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 3)
    except OSError:
        fds = []
    sock.close()
    if len(fds) != 3:  # the server is gone, or it let this spare go
        os._exit(0)
    _run_job(fds)


def _run_job(fds: list[int]) -> None:
    """In a job process: run the job of a ``spawn``'s descriptors (never returns)."""
    from jobqueue.runner import run_child

    report_fd, output_fd, data_fd = fds
    run_child(_read_data(data_fd), report_fd, output_fd)


def _loop(sock: socket.socket, wake_r: int, wake_w: int, children: set[int]) -> None:
    from jobqueue.pool import serve_pool

    close = (sock, wake_r, wake_w)
    spare: _Spare | None = None
    try:
        while True:
            if spare is None:
                spare = _Spare(close)
                children.add(spare.pid)
            ready, _, _ = select.select([sock, wake_r], [], [])
            if wake_r in ready:
                with contextlib.suppress(OSError):
                    os.read(wake_r, 4096)
            if _report_exits(sock, children, spare.pid):
                spare.close()
                spare = None  # it died waiting (its exit is nobody's business): a new one
            if sock not in ready:
                continue
            try:
                message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 3)
            except OSError:
                return  # the worker is gone
            if not message:
                return  # the worker is gone
            pool = message == b"pool" and len(fds) == 1
            if not pool and len(fds) != 3:
                for fd in fds:
                    os.close(fd)
                continue
            if not pool and spare is not None and spare.hand(fds):
                pid = spare.pid
            else:
                pid = os.fork()
                if pid == 0:  # a job process, or a pool process
                    _leave_server(*close, *([spare.sock] if spare else []))
                    if pool:
                        serve_pool(fds[0])
                    _run_job(fds)
                children.add(pid)
            for fd in fds:
                os.close(fd)
            if not pool:  # a pool process says its pid itself, on its own socket
                if spare is not None and spare.pid == pid:
                    spare = None  # the next one is forked before the next wait
                sock.send(b"pid %d" % pid)
    finally:
        if spare is not None:
            spare.close()


def _report_exits(sock: socket.socket, children: set[int], spare: int | None = None) -> bool:
    """Reap ended children and report them to the worker, except the ``spare`` (True if
    it ended)."""
    spare_ended = False
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return spare_ended
        if pid == 0:
            return spare_ended
        children.discard(pid)
        if pid == spare:
            spare_ended = True
            continue
        with contextlib.suppress(OSError):  # the worker is gone: its end says so next
            sock.send(b"exit %d %d" % (pid, status))
