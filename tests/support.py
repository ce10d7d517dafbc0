"""Real components for tests: a Redis for the channel layer and live product stacks.

``LiveStack`` runs the product the way users do — daphne, workers, ``manage.py enqueue`` as
separate OS processes — against a fresh database of its own: a new PostgreSQL database when
``DATABASE_URL`` is set (dropped afterwards), else a SQLite file in the stack's own ``var/``;
each a copy of one database that ``manage.py migrate`` made for the test session. The channel layer is ``REDIS_URL``'s Redis with a prefix of
the stack's own, else the stack's own embedded Redis on ``var/redis.sock`` — started by the stack, or, with
``embedded_redis=False``, by the first product process that needs it, exactly as the
embedded default runs when its commands are started by hand.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from core4site import embedded

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "hans"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(pid: int) -> bool:
    """Is process ``pid`` running (a zombie not yet reaped counts as gone)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped by init) counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05, message: str = ""):
    """Poll ``predicate`` until it returns something truthy; a generous upper bound only."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(message or f"condition not met within {timeout} s")
        time.sleep(interval)


class TestRedis:
    """``REDIS_URL``'s server, or a private embedded one for the test session."""

    __test__ = False

    def __init__(self, directory: Path):
        self.url = os.environ.get("REDIS_URL", "")
        self.process = None
        if self.url:
            self.address = self.url
        else:
            self.socket = Path(directory) / "redis.sock"
            self.process = embedded.start(self.socket)
            self.address = f"unix://{self.socket}"

    def stop(self) -> None:
        if self.process is not None:
            embedded.stop(self.process, self.socket)


def _postgres_admin_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres"))


#: The embedded default's database file in ``CORE4_VAR_DIR`` (core4site/settings.py)
SQLITE_NAME = "core4site.sqlite3"


def _product_env(var: Path) -> dict[str, str]:
    """The environment of a stack's product processes, with ``var`` as ``CORE4_VAR_DIR``."""
    env = dict(os.environ)
    env.update(
        CORE4_VAR_DIR=str(var),
        CORE4_ADMIN_PASSWORD=ADMIN_PASSWORD,
        CORE4_FAST_PASSWORD_HASHER="1",
        CORE4_SECRET_KEY="live-stack-" + uuid.uuid4().hex,
        CORE4_LAYER_PREFIX="core4live-" + uuid.uuid4().hex[:8],
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="tests.settings",
        CORE4_EMBEDDED_REDIS_LINGER="1",
    )
    return env


def _database_url(base: str, name: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path="/" + name))


#: The session's migrated database: a PostgreSQL database name, or a SQLite file's path
_TEMPLATE: list[str] = []


def _migrated_template() -> str:
    """A database that ``manage.py migrate`` made, once per test session, for the stacks to
    copy (the migration of a stack's own database was a Django process of ~2 s each time;
    a copy takes ~0.15 s): on PostgreSQL a database to ``CREATE DATABASE … TEMPLATE`` from,
    else a SQLite file. Removed when the session's process exits."""
    if _TEMPLATE:
        return _TEMPLATE[0]
    directory = Path(tempfile.mkdtemp(prefix="core4tpl-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    env = _product_env(directory)
    if not os.environ.get("REDIS_URL"):
        env.pop("REDIS_URL", None)
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith(("postgres://", "postgresql://")):
        template = f"core4tpl_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        LiveStack._admin_sql(base, f'CREATE DATABASE "{template}"')
        drop = f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'
        atexit.register(LiveStack._admin_sql, base, drop)
        env["DATABASE_URL"] = _database_url(base, template)
    else:
        env.pop("DATABASE_URL", None)
        template = str(directory / SQLITE_NAME)
    result = subprocess.run(  # noqa: PLW1510 - checked below with the output
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(f"manage.py migrate exited {result.returncode}:\n{result.stderr}")
    _TEMPLATE.append(template)
    return template


def _copy_sqlite(source: str, target: Path) -> None:
    """A consistent copy of a SQLite database (its write-ahead log included)."""
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


class LiveStack:
    """A product instance of its own: database, channel layer, processes."""

    def __init__(
        self, tmp_path: Path, test_redis: TestRedis | None = None, *, embedded_redis: bool = True
    ):
        self.tmp = Path(tmp_path)
        self.var = self.tmp / "var"
        self.var.mkdir(parents=True, exist_ok=True)
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.redis_process = None
        self.database = None
        self.base_url = ""
        env = _product_env(self.var)
        base = os.environ.get("DATABASE_URL", "")
        if base.startswith(("postgres://", "postgresql://")):
            self.database = "core4live_" + uuid.uuid4().hex[:12]
            # a copy of the session's migrated database, as `manage.py migrate` leaves it
            template = _migrated_template()
            self._admin_sql(base, f'CREATE DATABASE "{self.database}" TEMPLATE "{template}"')
            self._base_database_url = base
            env["DATABASE_URL"] = _database_url(base, self.database)
        else:
            env.pop("DATABASE_URL", None)
            _copy_sqlite(_migrated_template(), self.var / SQLITE_NAME)
        if not os.environ.get("REDIS_URL"):
            env.pop("REDIS_URL", None)
            if embedded_redis:
                self.redis_process = embedded.start(self.var / "redis.sock")
        self.env = env

    # --- the shared embedded Redis (embedded_redis=False) ----------------------------------
    def supervisor_pid(self) -> int | None:
        """The live supervisor of the stack's shared embedded Redis, if any."""
        try:
            pid = int((self.var / embedded.SUPERVISOR_PID).read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def _stop_supervisor(self, timeout: float = 30) -> None:
        """Give the supervisor its linger time to stop on its own; never leak it."""
        try:
            wait_for(lambda: self.supervisor_pid() is None, timeout)
        except TimeoutError:
            with contextlib.suppress(OSError, TypeError):
                os.kill(self.supervisor_pid(), signal.SIGTERM)
            raise

    # --- processes --------------------------------------------------------------------------
    @staticmethod
    def _admin_sql(url: str, sql: str) -> None:
        import psycopg

        with psycopg.connect(_postgres_admin_url(url), autocommit=True) as conn:
            conn.execute(sql)

    def manage(self, *args: str, check: bool = True, timeout: float = 60, env: dict | None = None):
        """Run ``manage.py ARGS`` to completion; returns the CompletedProcess."""
        result = subprocess.run(  # noqa: PLW1510 - checked below with the output
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def spawn(self, name: str, *args: str, env: dict | None = None) -> subprocess.Popen:
        """Start ``manage.py ARGS`` (or ``python -m …`` for ``-m`` args) in the background."""
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        cmd = [sys.executable, *args] if args[0] == "-m" else [sys.executable, "manage.py", *args]
        process = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log_path = self.tmp / f"{name}.log"
        self.processes.append((name, process))
        return process

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def start_daphne(self, name: str = "daphne") -> str:
        """Start a daphne on a free port; its URL becomes ``base_url`` (the latest started).
        Several may run, each with a ``name`` of its own (its log); the process carries
        its ``port``."""
        port = free_port()
        process = self.spawn(
            name,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "core4site.asgi:application",
        )
        url = f"http://127.0.0.1:{port}"
        process.port = port

        def answers():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited:\n{self.log(name)}")
            try:
                return requests.get(url + "/core4/api/v1/login", timeout=2).status_code
            except requests.ConnectionError:
                return None

        wait_for(answers, 60, message=f"{name} did not answer")
        self.base_url = url
        return url

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1)

    def start_worker(self, identifier: str = "worker-1", *extra: str) -> subprocess.Popen:
        return self.spawn(identifier, "worker", identifier, *extra)

    def login(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
        response = requests.get(
            self.base_url + "/core4/api/login",
            params={"username": username, "password": password},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]["token"]

    @staticmethod
    def terminate(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            LiveStack._reap(process, timeout)
        return process.returncode

    @staticmethod
    def _reap(process: subprocess.Popen, timeout: float = 30) -> None:
        """Wait for a signalled process; SIGKILL its group after ``timeout``."""
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        # SIGTERM to all at once, then wait for each: a worker's stop grace (jobs still
        # running get CORE4_WORKER_GRACE) runs alongside the others', not one after another
        running = [process for _, process in reversed(self.processes) if process.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in running:
            self._reap(process)
        self.processes.clear()
        if self.redis_process is not None:
            embedded.stop(self.redis_process, self.var / "redis.sock")
            self.redis_process = None
        if self.database:
            try:
                self._admin_sql(
                    self._base_database_url,
                    f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)',
                )
            finally:
                self.database = None
        self._stop_supervisor()


# --- core4's HTTP conventions on Django's test client (in-process API tests) ------------------
API = "/core4/api/v1"

#: The user the seed session creates (seed/event-processing.txt).
SEED_USER = {
    "name": "test",
    "realname": "Test User",
    "email": "test@plan-net.com",
    "password": "very secret",
    "role": ["standard_user"],
    "perm": ["api://core4.api.v1.request.queue.history.*"],
}


def make_user(name, perm=(), roles=(), password="secret", email=None, **fields):
    """The suite's one way to create a user (in this process's database): ``perm`` and
    ``roles`` (role names) as given, ``email`` defaults to ``<name>@example.com``, other
    ``User`` fields (``realname``, ``is_active``, …) as keywords. Tests take it as the
    ``make_user`` fixture; helpers (and async tests, through ``database_sync_to_async``) may
    call it directly."""
    from accounts.models import Role, User

    user = User(name=name, email=email or f"{name}@example.com", perm=list(perm), **fields)
    user.set_password(password)
    user.save()
    if roles:
        user.roles.set(Role.objects.filter(name__in=roles))
    return user


class Api:
    """A client speaking core4's conventions (bearer token, JSON bodies) on Django's client."""

    def __init__(self, client, token=None):
        self.client = client
        self.token = token

    def login(self, username="admin", password="hans"):
        response = self.client.get("/core4/api/login", {"username": username, "password": password})
        assert response.status_code == 200, response.content
        self.token = response.json()["data"]["token"]
        self.client.cookies.clear()
        return self

    def _headers(self, headers):
        result = {"HTTP_AUTHORIZATION": "Bearer " + self.token} if self.token else {}
        result.update(headers or {})
        return result

    def get(self, path, data=None, **headers):
        return self.client.get(API + path, data or {}, **self._headers(headers))

    def _send(self, method, path, body, headers):
        return getattr(self.client, method)(
            API + path,
            json.dumps(body) if body is not None else "",
            content_type="application/json",
            **self._headers(headers),
        )

    def post(self, path, body=None, **headers):
        return self._send("post", path, body, headers)

    def put(self, path, body=None, **headers):
        return self._send("put", path, body, headers)

    def delete(self, path, body=None, **headers):
        return self._send("delete", path, body, headers)


def error_of(response):
    """The error envelope's ``error``; fails if the response is not an error envelope."""
    body = response.json()
    assert "data" not in body, body
    assert body["code"] == response.status_code
    assert set(body) <= {"_id", "code", "message", "timestamp", "version", "error"}, body
    return body.get("error", "")
