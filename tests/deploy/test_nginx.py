"""Production topology, run for real: nginx in front of two daphne processes and two workers.

nginx (Debian's) runs ``deploy/nginx/core4site.conf`` itself — only the listen port, the
upstream's ports and the static files' path are rewritten — under a master of the test's own
(temp prefix, unprivileged port, ``daemon off``), never the system service. Everything goes
through nginx: the seed session, the event sockets (one per daphne), a job followed as
server-sent events, static files. Then a worker is SIGKILLed mid-job (the other settles the
job) and a daphne is SIGKILLed (its client resumes through nginx on the other, losing
nothing).

PostgreSQL + Redis only: several servers and workers are the production topology, which the
embedded default (SQLite + a private Redis) is not meant for.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import psutil
import pytest
import requests
from requests import get, post
from websocket import WebSocketTimeoutException, create_connection

from tests.jobqueue.stackdb import enqueue, job, wait_state
from tests.support import ROOT, LiveStack, free_port, wait_for

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)
PRODUCTION = os.environ.get("DATABASE_URL", "").startswith(
    ("postgres://", "postgresql://")
) and bool(os.environ.get("REDIS_URL"))

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        NGINX is None, reason="nginx not found: `apt-get install nginx` (CI's .ci/run does)"
    ),
    pytest.mark.skipif(
        not PRODUCTION,
        reason="the production topology runs on PostgreSQL + Redis: set DATABASE_URL and REDIS_URL",
    ),
]

SITE = ROOT / "deploy" / "nginx" / "core4site.conf"
DUMMY = "core4.queue.helper.job.example.DummyJob"
SLEEP = "tests.jobqueue.jobs.SleepJob"
QUEUE_EVENTS = ["enqueue_job", "request_start_job", "start_job", "complete_job"]
FAST = {
    "CORE4_WORKER_TIMEOUT": "2",  # a SIGKILLed worker counts as dead after 2 s
    "CORE4_WORKER_GRACE": "10",
    "CORE4_SUMMARY_INTERVAL": "0.5",
    "CORE4_WORKER_DAILY_COMMANDS": "nosuchcommand",
}


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected exactly one {old!r} in {SITE}"
    return text.replace(old, new)


class Nginx:
    """An nginx master of the test's own running the shipped site config."""

    def __init__(self, tmp: Path, upstream_ports: list[int], static_root: Path):
        self.dir = tmp / "nginx"
        self.dir.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        site = SITE.read_text()
        site = replace_once(site, "listen 80;", f"listen 127.0.0.1:{self.port};")
        site = replace_once(
            site,
            "    server 127.0.0.1:8001 max_fails=1 fail_timeout=10s;\n"
            "    server 127.0.0.1:8002 max_fails=1 fail_timeout=10s;\n",
            "".join(
                f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;\n"
                for port in upstream_ports
            ),
        )
        site = replace_once(site, "alias /srv/core4site/var/static/;", f"alias {static_root}/;")
        (self.dir / "core4site.conf").write_text(site)
        temp = "\n".join(
            f"    {kind}_temp_path {self.dir}/{kind}_temp;"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
        # as root the workers would switch to `nobody`, who cannot read pytest's 0700 tmp dirs
        user = "user root;" if os.geteuid() == 0 else ""
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(
            f"""{user}
worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    {mime}
    access_log {self.dir}/access.log;
{temp}
    include {self.dir}/core4site.conf;
}}
"""
        )
        command = [
            NGINX,
            "-p",
            str(self.dir),
            "-c",
            str(self.conf),
            "-e",
            str(self.dir / "error.log"),
        ]
        test = subprocess.run(
            [*command, "-t"], check=False, capture_output=True, text=True, timeout=30
        )
        assert test.returncode == 0, f"nginx -t failed:\n{test.stderr}"
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )

        def answers():
            if self.process.poll() is not None:
                raise AssertionError(f"nginx exited:\n{self.error_log()}")
            try:
                return get(self.url + "/core4/api/v1/login", timeout=2).status_code
            except requests.ConnectionError:
                return None

        wait_for(answers, 30, message="nginx did not answer")

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text() if path.exists() else ""


class Listener:
    """One event socket through nginx, read in a thread; keeps every frame."""

    def __init__(self, url: str, since: str | None = None):
        self.ws = create_connection(url, timeout=30)
        self.frames: list[dict] = []
        self.closed = threading.Event()
        self.stop = threading.Event()
        message: dict = {"type": "interest", "data": ["queue"]}
        if since is not None:
            message["since"] = since
        self.ws.send(json.dumps(message))
        self.reply = json.loads(self.ws.recv())
        self.ws.settimeout(0.5)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                text = self.ws.recv()
            except WebSocketTimeoutException:
                continue
            except Exception:  # noqa: BLE001 - the connection is gone (daphne killed, or closed)
                break
            if not text:  # a close frame
                break
            self.frames.append(json.loads(text))
        self.closed.set()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.ws.close()

    def events(self) -> list[dict]:
        """The queue events received, in order (summaries left out)."""
        return [f for f in list(self.frames) if f.get("name") != "summary"]

    def of(self, job_id: str) -> list[str]:
        return [e["name"] for e in self.events() if (e.get("data") or {}).get("_id") == job_id]

    def saw(self, job_id: str, name: str) -> bool:
        return name in self.of(job_id)


def established(process: subprocess.Popen) -> int:
    """Open client connections of one daphne (nginx's upstream connections)."""
    port = process.port  # type: ignore[attr-defined]
    return sum(
        1
        for c in psutil.Process(process.pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port
    )


def read_sse(response: requests.Response):
    """The (event, data) frames of a server-sent event stream, as they arrive."""
    buffer = ""
    for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
        buffer += chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            fields = dict(
                line.split(": ", 1) for line in frame.splitlines() if not line.startswith(":")
            )
            if "event" in fields:
                yield fields["event"], json.loads(fields.get("data", "null"))


def test_nginx_two_daphnes_two_workers(live_stack):
    stack = live_stack
    stack.env.update(FAST)
    stack.manage("collectstatic", "--noinput", "--verbosity", "0", timeout=120)
    static_root = stack.var / "static"
    daphne_a = stack.start_daphne("daphne-a")
    daphne_b = stack.start_daphne("daphne-b")
    daphnes = {name: process for name, process in stack.processes if name.startswith("daphne-")}
    nginx = Nginx(stack.tmp, [p.port for p in daphnes.values()], static_root)
    stack.processes.append(("nginx", nginx.process))  # stopped with the stack
    assert daphne_a != daphne_b
    base = nginx.url
    ws_base = base.replace("http://", "ws://", 1)

    # -- static files come from disk (nginx), not from daphne -------------------------------
    # a file written after the servers started: whitenoise indexed STATIC_ROOT at start-up
    (static_root / "deploy-probe.txt").write_text("served by nginx\n")
    probe = get(base + "/static/deploy-probe.txt", timeout=10)
    assert probe.status_code == 200 and probe.text == "served by nginx\n"
    assert probe.headers["Server"].startswith("nginx")
    assert get(daphne_a + "/static/deploy-probe.txt", timeout=10).status_code == 404
    css = next(static_root.glob("dashboard/*.css"), None) or next(static_root.rglob("*.css"))
    asset = get(base + "/static/" + str(css.relative_to(static_root)), timeout=10)
    assert asset.status_code == 200 and asset.content == css.read_bytes()
    assert asset.headers["Content-Type"].startswith("text/css")

    # -- the seed session, through nginx ------------------------------------------------------
    login = get(f"{base}/core4/api/login?username=admin&password=hans")
    token = login.json()["data"]["token"]
    rv = post(
        f"{base}/core4/api/v1/roles",
        headers={"Authorization": "Bearer " + token},
        json={
            "name": "test",
            "realname": "Test User",
            "email": "test@plan-net.com",
            "password": "very secret",
            "role": ["standard_user"],
            "perm": ["api://core4.api.v1.request.queue.history.*"],
        },
    )
    assert rv.status_code == 200, rv.text
    # a body over CORE4_MAX_BODY_BYTES reaches daphne (client_max_body_size is larger)
    big = post(
        f"{base}/core4/api/v1/roles",
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
        data=b" " * (3 * 1024 * 1024),
        timeout=30,
    )
    assert big.status_code == 400 and "request too large" in big.json()["error"], big.text
    user_token = get(f"{base}/core4/api/login?username=test&password=very secret").json()["data"][
        "token"
    ]
    url = f"{base}/core4/api/v1/jobs/history?token=" + user_token
    assert get(url).json()["data"] == []

    # nginx's least_conn sends the second socket to the daphne without one
    user_ws = Listener(f"{ws_base}/core4/api/v1/event?token=" + user_token)
    wait_for(
        lambda: sorted(established(p) for p in daphnes.values()) == [0, 1],
        30,
        0.1,
        "the first socket did not reach exactly one daphne",
    )
    user_daphne = next(name for name, p in daphnes.items() if established(p) == 1)
    admin_ws = Listener(f"{ws_base}/core4/api/v1/event?token=" + token)
    wait_for(
        lambda: [established(p) for p in daphnes.values()] == [1, 1],
        30,
        0.1,
        "the two sockets are not on two daphnes",
    )
    listeners = [user_ws, admin_ws]
    resumed: Listener | None = None
    try:
        expected_reply = {
            "data": ["queue"],
            "message": "processed interest in ['queue']",
            "type": "interest",
        }
        assert user_ws.reply == expected_reply and admin_ws.reply == expected_reply

        seed_job = enqueue(stack, DUMMY, "sleep=3")
        stack.start_worker("worker-1")
        stack.start_worker("worker-2")
        wait_for(
            lambda: all(ws.saw(seed_job, "complete_job") for ws in listeners),
            90,
            0.1,
            f"seed job incomplete; logs:\n{stack.log('worker-1')}\n{stack.log('worker-2')}",
        )
        for listener in listeners:
            assert listener.of(seed_job) == QUEUE_EVENTS
        user_names = {
            row["name"] for f in user_ws.frames if f.get("name") == "summary" for row in f["data"]
        }
        assert user_names <= {"UnauthorizedJob"}
        assert get(url).json()["total_count"] == 4

        # -- a job followed as server-sent events; its worker SIGKILLed mid-job ---------------
        doomed_job = enqueue(stack, SLEEP, "sleep=120", "worker=worker-1")
        wait_state(stack, doomed_job, "running")
        stream = get(
            f"{base}/core4/api/v1/job/follow/{doomed_job}",
            headers={"Authorization": "Bearer " + token},
            stream=True,
            timeout=(10, 60),
        )
        assert stream.status_code == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        frames = read_sse(stream)
        # unbuffered: the job's output and first state arrive while it still runs
        kind, document = next(frames)
        while kind != "state":
            kind, document = next(frames)
        assert document["state"] == "running"
        assert job(stack, doomed_job)["state"] == "running"
        worker_1 = next(p for name, p in stack.processes if name == "worker-1")
        LiveStack.terminate(worker_1, signal.SIGKILL)
        states = [document["state"]]
        for kind, document in frames:
            if kind == "state":
                states.append(document["state"])
            if kind == "close":
                assert document["reason"] == "final"
                break
        stream.close()
        assert states[0] == "running" and states[-1] == "killed"
        settled = job(stack, doomed_job)
        assert "worker [worker-1] died" in str(settled["last_error"])
        wait_for(
            lambda: all(ws.saw(doomed_job, "kill_job") for ws in listeners),
            30,
            0.1,
            "the settled job's event did not reach both sockets",
        )

        # -- one daphne SIGKILLed: its client resumes through nginx, losing nothing -----------
        victim, survivor = (user_ws, admin_ws) if user_daphne == "daphne-a" else (admin_ws, user_ws)
        victim_token = user_token if victim is user_ws else token
        LiveStack.terminate(daphnes["daphne-a"], signal.SIGKILL)
        assert victim.closed.wait(30), "the socket of the killed daphne stayed open"
        last_seen = victim.events()[-1]["_id"]  # the client's resume point
        assert not survivor.closed.is_set()
        # events while the client is away
        away = [enqueue(stack, DUMMY, "sleep=0.2") for _ in range(3)]
        wait_for(
            lambda: all(survivor.saw(j, "complete_job") for j in away),
            90,
            0.1,
            "jobs enqueued meanwhile did not complete",
        )
        resumed = Listener(f"{ws_base}/core4/api/v1/event?token=" + victim_token, since=last_seen)
        assert resumed.reply["type"] == "interest"
        assert established(daphnes["daphne-b"]) >= 2  # both sockets now on the survivor
        after = enqueue(stack, DUMMY, "sleep=0.2")
        wait_for(
            lambda: resumed.saw(after, "complete_job") and survivor.saw(after, "complete_job"),
            90,
            0.1,
            "the job enqueued after the resume did not reach both sockets",
        )
        combined = victim.events() + resumed.events()
        ids = [e["_id"] for e in combined]
        assert len(ids) == len(set(ids)), "an event arrived twice"
        assert ids == sorted(ids)
        # the same event sequence on both clients, across the daphne each went through
        assert [(e["_id"], e["name"]) for e in combined] == [
            (e["_id"], e["name"]) for e in survivor.events()
        ]
        for job_id in [*away, after]:
            assert resumed.of(job_id) == QUEUE_EVENTS
    finally:
        for listener in [*listeners, *([resumed] if resumed else [])]:
            listener.close()
        if nginx.process.poll() is not None:
            print(nginx.error_log())
