"""``manage.py up``: the whole product in one terminal — (embedded Redis), daphne, a worker.

A small supervisor: it starts the processes, prints where to log in, and stops everything
cleanly on Ctrl-C / SIGTERM: it says at once what it waits for (the jobs running), passes
the signal on to the workers (they let running jobs end within ``CORE4_WORKER_GRACE``, then
end them and settle them as interrupted: retried) and stops the server; a second Ctrl-C
stops at once (the workers end their jobs and settle them now), a third kills what is left.
The children run in process groups of their own — a terminal's Ctrl-C reaches ``up`` only,
which decides — and get SIGTERM if ``up`` dies (Linux ``PR_SET_PDEATHSIG``), so no process
outlives it. A worker that stops cleanly (``coco --halt``, SIGTERM: exit
status 0) is not a failure: the server keeps serving and ``up`` says how to run workers
again. Anything else that dies — the server, or a worker that crashed (non-zero) — stops
everything, so a broken setup is never half-running and a crashing worker is not restarted
in a loop. Without ``REDIS_URL``, ``up`` is one more user of the shared embedded Redis
(``core4site.embedded``): started if none runs, stopped as ``up`` exits when no other
process uses it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import get_commands
from django.core.management.base import BaseCommand, CommandError

from core4site import embedded


class Command(BaseCommand):
    help = "Run the server (daphne) and a worker, plus the embedded Redis when REDIS_URL is unset."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=5001)
        parser.add_argument("--workers", type=int, default=1, help="worker processes (0 = none)")
        parser.add_argument("--concurrency", type=int, default=None, help="jobs per worker")

    def handle(self, *args, host: str, port: int, workers: int, concurrency, **options):
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {port}")
        if workers < 0:
            raise CommandError("--workers must be >= 0")
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.stopping = False
        self.signals: list[int] = []  # received, in order (handled by the loops)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        socket_path = settings.CORE4_EMBEDDED_REDIS_SOCKET
        try:
            if not settings.REDIS_URL:
                try:
                    started = embedded.ensure(
                        socket_path, label="up", linger=settings.CORE4_EMBEDDED_REDIS_LINGER
                    )
                except embedded.EmbeddedRedisError as exc:
                    raise CommandError(str(exc)) from exc
                if not started:
                    self.stdout.write(f"using the embedded Redis already running on {socket_path}")
            env = dict(os.environ)
            self._spawn("daphne", self.daphne_command(host, port), env)
            if "worker" in get_commands():
                for number in range(1, workers + 1):
                    cmd = [sys.executable, "manage.py", "worker", f"worker-{number}"]
                    if concurrency:
                        cmd += ["--concurrency", str(concurrency)]
                    self._spawn(f"worker-{number}", cmd, env)
            self._banner(host, port)
            self._supervise()
        finally:
            self._stop_all()
            if not settings.REDIS_URL:
                with contextlib.suppress(embedded.EmbeddedRedisError, OSError):
                    embedded.release(socket_path)  # else it stops after its linger time

    @staticmethod
    def daphne_command(host: str, port: int) -> list[str]:
        """daphne with the access log of ``CORE4_ACCESS_LOG`` (redacted: core4site.accesslog)."""
        target = settings.CORE4_ACCESS_LOG
        if target.lower() in ("off", "none", ""):
            target = os.devnull
        elif target != "-":
            path = Path(target)
            if not path.is_absolute():
                path = Path(settings.BASE_DIR) / path
            path.parent.mkdir(parents=True, exist_ok=True)
            target = str(path)
        return [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            host,
            "-p",
            str(port),
            "--access-log",
            target,
            "core4site.asgi:application",
        ]

    def _spawn(self, name: str, cmd: list[str], env: dict) -> None:
        process = subprocess.Popen(
            cmd,
            env=env,
            cwd=settings.BASE_DIR,
            stdin=subprocess.DEVNULL,  # not in the terminal's foreground group: never read it
            process_group=0,  # a terminal's Ctrl-C reaches up only: up decides
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        self.children.append((name, process))

    def _banner(self, host: str, port: int) -> None:
        url = f"http://{host}:{port}"
        user = settings.CORE4_ADMIN_USERNAME
        password = settings.CORE4_ADMIN_PASSWORD or "(CORE4_ADMIN_PASSWORD not set)"
        mode = (
            "PostgreSQL/Redis"
            if settings.REDIS_URL
            else "embedded default (SQLite + private Redis)"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"\ncore4site is up ({mode})\n"
                f"  dashboard {url}/\n"
                f"  API       {url}/core4/api/v1/\n"
                f"  API docs  {url}/core4/api/v1/schema/swagger/\n"
                f"  login     {url}/core4/api/login?username={user}&password=…\n"
                f"  admin     {url}/admin/   user {user!r} password {password!r}\n"
                f"  events    ws://{host}:{port}/core4/api/v1/event?token=…\n"
                "Ctrl-C stops everything.\n"
            )
        )

    def _on_signal(self, signum, frame) -> None:
        self.signals.append(signum)
        self.stopping = True

    def _supervise(self) -> None:
        watched = list(self.children)
        while not self.stopping:
            for name, process in list(watched):
                if process.poll() is None:
                    continue
                if name.startswith("worker-") and process.returncode == 0:
                    watched.remove((name, process))
                    self._worker_halted(name, watched)
                    continue
                self.stderr.write(f"{name} exited with {process.returncode}: stopping")
                self.stopping = True
                break
            time.sleep(0.2)

    def _worker_halted(self, name: str, watched: list) -> None:
        """A worker stopped cleanly (halt or SIGTERM): say so; the server keeps serving."""
        left = sum(1 for n, _ in watched if n.startswith("worker-"))
        self.stdout.write(
            self.style.WARNING(
                f"{name} halted (coco --halt or --stop, the dashboard's Stop, or SIGTERM): "
                f"the server keeps running, "
                f"{left} worker(s) left. To run jobs again, restart `manage.py up` or run "
                "`python manage.py worker` in another terminal."
            )
        )
        self.stdout.flush()

    def _alive(self) -> list[tuple[str, subprocess.Popen]]:
        return [(name, p) for name, p in self.children if p.poll() is None]

    def _stop_all(self) -> None:
        """First signal: the workers get it too (grace period, then their jobs are ended
        and settled), the server SIGTERM. Second: the workers get it again (end and settle
        their jobs now), the server SIGKILL. Third, or the workers overstay their grace
        period by far: SIGKILL for everything left."""
        first = self.signals[0] if self.signals else signal.SIGTERM
        grace = settings.CORE4_WORKER_GRACE
        self._say_stopping(first, grace)
        for name, process in self._alive():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(first if name.startswith("worker-") else signal.SIGTERM)
        # a worker ends its jobs after the grace period and settles them within seconds
        deadline = time.monotonic() + grace + 30
        handled = len(self.signals)  # the one that started the stop (if any) is handled
        forced = 0
        while self._alive():
            if len(self.signals) > handled:
                handled = len(self.signals)
                forced += 1
                if forced == 1:
                    self._say("stopping now: running jobs are ended and settled (retried) — "
                              "Ctrl-C again to kill everything")  # fmt: skip
                    for name, process in self._alive():
                        with contextlib.suppress(ProcessLookupError):
                            if name.startswith("worker-"):
                                process.send_signal(self.signals[-1])
                            else:
                                process.kill()
                    deadline = min(deadline, time.monotonic() + 15)
                else:
                    deadline = 0
            if time.monotonic() > deadline:
                for name, process in self._alive():
                    self.stderr.write(f"{name} did not stop: killing it")
                    process.kill()
                    process.wait()
                break
            time.sleep(0.05)

    def _say(self, text: str) -> None:
        self.stdout.write(self.style.WARNING(text))
        self.stdout.flush()

    def _say_stopping(self, signum: int, grace: float) -> None:
        """At once: what the stop waits for, and how to stop now."""
        workers = [name for name, _ in self._alive() if name.startswith("worker-")]
        if not workers:
            self._say("stopping")
            return
        try:
            from jobqueue.models import Job

            running = Job.objects.running().filter(locked_by__in=workers).count()
        except Exception:  # noqa: BLE001 - the database may be what failed
            running = None
        again = "Ctrl-C again" if signum == signal.SIGINT else "SIGTERM again"
        if running == 0:
            self._say("stopping: no job running")
            return
        what = (
            "jobs may be running"
            if running is None
            else (f"{running} job{'' if running == 1 else 's'} running")
        )
        self._say(f"stopping: {what}, waiting up to {grace:g} s — {again} to stop now")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM this process when ``up`` dies, even by SIGKILL."""
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
