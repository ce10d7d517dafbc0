"""Monitoring (README "Monitoring"): ``/metrics`` with real worker and server processes,
its access rules, ``/health/live`` and ``/health/ready``, and JSON log lines."""

from __future__ import annotations

import json
import signal

import pytest
import requests
import websocket
from prometheus_client.parser import text_string_to_metric_families

from core4site import metrics
from tests.jobqueue.stackdb import rows, wait_state
from tests.support import API, wait_for

DUMMY = "jobqueue.jobs.example.DummyJob"
NOOP = "jobqueue.jobs.example.NoopJob"
SLEEP = "tests.jobqueue.jobs.SleepJob"
TOKEN = "scrape-me-" + "x" * 20


def scrape(stack, token: str = TOKEN) -> dict[str, dict[tuple, float]]:
    """``/metrics`` as ``{sample name: {sorted label items: value}}``."""
    response = requests.get(
        stack.base_url + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def value(samples, metric: str, /, **labels) -> float:
    return samples.get(metric, {}).get(tuple(sorted(labels.items())), 0.0)


def enqueue(stack, *args: str) -> str:
    return stack.manage("enqueue", *args).stdout.strip().splitlines()[-1]


# --- /metrics with several worker and server processes ----------------------------------------
@pytest.mark.e2e
def test_metrics_with_real_workers_and_servers(live_stack, tmp_path):
    stack = live_stack
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    stack.env.update(
        CORE4_METRICS_TOKEN=TOKEN,
        CORE4_METRICS_DIR=str(metrics_dir),
        CORE4_WORKER_DAILY_COMMANDS="nosuchcommand",
        CORE4_WORKER_GRACE="1",  # the sleep=60 job need not finish at teardown
    )
    second = stack.start_daphne()  # two server processes sharing the metrics directory
    first = stack.start_daphne()
    stack.start_worker("worker-1", "--concurrency", "2")
    stack.start_worker("worker-2", "--concurrency", "3")
    wait_for(
        lambda: value(scrape(stack), "core4_workers_alive") == 2, 60, 0.2, "workers not alive"
    )  # the first scrape also starts the event cursor: only what follows is counted

    fast = [enqueue(stack, NOOP, f"n={n}") for n in range(4)]
    for job_id in fast:
        wait_state(stack, job_id, "complete")
    slow = enqueue(stack, SLEEP, "sleep=60")
    wait_state(stack, slow, "running")
    pending = enqueue(stack, DUMMY, "sleep=1", "worker=nobody")  # no worker of that name

    # a socket on the second server, which then sees an event
    stack.base_url = second
    token = stack.login()
    socket = websocket.create_connection(
        stack.ws_url + "/core4/api/v1/event", header=[f"Authorization: Bearer {token}"], timeout=30
    )
    try:
        socket.send(json.dumps({"type": "interest", "data": ["queue"]}))
        enqueue(stack, DUMMY, "sleep=1", "worker=nobody", "n=2")
        wait_for(lambda: '"enqueue_job"' in socket.recv(), 30, 0, "the socket saw no enqueue event")
        stack.base_url = first  # counted over both servers: scraped on the other one
        samples = wait_for(
            lambda: (
                (s := scrape(stack)) and value(s, "core4_event_delivery_seconds_count") >= 1 and s
            ),
            30,
            0.2,
            "no delivery observed",
        )
        assert value(samples, "core4_websocket_connections") == 1
    finally:
        socket.close()

    counts = {r["state"]: r["n"] for r in rows(stack, "SELECT state, n FROM queue_queuecount")}
    for state in ("pending", "running", "deferred", "failed", "error", "inactive", "killed"):
        assert value(samples, "core4_jobs", state=state) == counts.get(state, 0), state
    assert value(samples, "core4_jobs", state="running") == 1
    assert value(samples, "core4_jobs", state="pending") == 2
    assert value(samples, "core4_workers_alive") == 2
    assert value(samples, "core4_worker_slots") == 5
    assert value(samples, "core4_worker_slots_busy") == 1

    assert value(samples, "core4_transitions_total", event="enqueue_job") == 7
    assert value(samples, "core4_transitions_total", event="complete_job") == 4
    assert value(samples, "core4_transitions_total", event="request_start_job") == 5
    assert value(samples, "core4_job_runtime_seconds_count", name=NOOP) == 4
    assert value(samples, "core4_job_runtime_seconds_bucket", name=NOOP, le="+Inf") == 4
    assert value(samples, "core4_job_runtime_seconds_sum", name=NOOP) >= 0
    assert value(samples, "core4_job_pickup_seconds_count") == 5
    assert value(samples, "core4_http_requests_total", status="200") >= 3
    assert pending

    # the socket closed: the gauge goes back to zero; counters never go back
    after = wait_for(
        lambda: (s := scrape(stack)) and value(s, "core4_websocket_connections") == 0 and s,
        30,
        0.2,
        "socket still counted",
    )
    assert value(after, "core4_transitions_total", event="enqueue_job") == 7
    assert value(after, "core4_http_requests_total", status="200") > value(
        samples, "core4_http_requests_total", status="200"
    )


# --- who may scrape --------------------------------------------------------------------------
@pytest.mark.django_db
def test_metrics_access(client, make_user, settings):
    settings.CORE4_METRICS_TOKEN = TOKEN
    make_user("boss", perm=["cop"])
    make_user("plain", perm=["api://.*"])

    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401
    assert wrong.json()["code"] == 401  # core4's envelope

    def login(name):
        reply = client.get(API + "/login", {"username": name, "password": "secret"})
        return reply.json()["data"]["token"]

    plain = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {login('plain')}")
    assert plain.status_code == 403
    assert "cop" in plain.json()["error"]

    for header in (f"Bearer {login('boss')}", f"Bearer {TOKEN}"):
        reply = client.get("/metrics", HTTP_AUTHORIZATION=header)
        assert reply.status_code == 200
        assert reply["Content-Type"].startswith("text/plain")
        assert b"core4_jobs{state=" in reply.content

    settings.CORE4_METRICS_TOKEN = ""  # no token configured: a bearer is just a bad JWT
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_metrics_and_health_are_not_in_the_api_schema(client):
    schema = client.get(API + "/schema/?format=json").json()
    assert not [p for p in schema["paths"] if "metrics" in p or "health" in p]


@pytest.mark.django_db
def test_fold_counts_each_event_once_and_bounded(settings):
    from events.outbox import store

    metrics.fold()  # starts the cursor
    for n in range(5):
        store("enqueue_job", "queue", {"_id": f"{n:024x}", "queue": {"pending": n}})
    store("message", "chat", "not a transition")
    first = metrics.fold(batch=3)
    assert first["transitions"] == {"enqueue_job": 3}
    second = metrics.fold(batch=3)
    assert second["transitions"] == {"enqueue_job": 5}
    assert metrics.fold(batch=3)["transitions"] == {"enqueue_job": 5}


# --- health ----------------------------------------------------------------------------------
@pytest.mark.e2e
def test_health_live_and_ready(live_stack):
    stack = live_stack
    stack.env.update(CORE4_HEALTH_HEARTBEAT_MAX="3", CORE4_WORKER_DAILY_COMMANDS="nosuchcommand")
    base = stack.start_daphne()

    live = requests.get(base + "/health/live", timeout=10)
    assert live.status_code == 200 and live.json()["data"]["status"] == "ok"

    def ready():
        return requests.get(base + "/health/ready", timeout=30)

    no_worker = ready()
    assert no_worker.status_code == 503
    checks = no_worker.json()["data"]["checks"]
    assert set(checks) == {"database", "channel_layer", "worker"}
    assert checks["database"]["status"] == "ok"
    assert checks["channel_layer"]["status"] == "ok"
    assert checks["worker"]["status"] == "fail"

    worker = stack.start_worker("worker-1")
    answer = wait_for(lambda: (r := ready()).status_code == 200 and r, 60, 0.2, "never ready")
    data = answer.json()["data"]
    assert data["status"] == "ok" and data["checks"]["worker"]["alive"] == 1
    assert "hans" not in answer.text and "postgres" not in answer.text

    stack.terminate(worker, signal.SIGKILL)  # no goodbye: only its heartbeat grows stale
    # (a Response is falsy when not ok: return its JSON)
    stale = wait_for(lambda: (r := ready()).status_code == 503 and r.json(), 60, 0.2, "ready")
    worker_check = stale["data"]["checks"]["worker"]
    assert worker_check["status"] == "fail"
    assert "no worker heartbeat in the last 3 s" in worker_check["reason"]
    assert worker_check["newest_heartbeat"] is not None


# --- JSON logs -------------------------------------------------------------------------------
def json_lines(text: str) -> list[dict]:
    """Every line of ``text`` as a JSON object (fails on a line that is not one)."""
    parsed = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
        assert isinstance(record, dict), line
        parsed.append(record)
    return parsed


@pytest.mark.e2e
def test_json_logs_of_server_worker_and_job(live_stack):
    stack = live_stack
    stack.env.update(CORE4_LOG_FORMAT="json", CORE4_WORKER_DAILY_COMMANDS="nosuchcommand")
    base = stack.start_daphne()
    stack.start_worker("worker-1")
    token = stack.login()
    headers = {"Authorization": f"Bearer {token}"}
    reply = requests.post(
        base + API + "/job",
        json={"qual_name": DUMMY, "args": {"sleep": 0.3, "loop_time": 0.1, "logging": True}},
        headers=headers,
        timeout=30,
    )
    job_id = reply.json()["data"]
    wait_state(stack, job_id, "complete")
    requests.get(base + "/core4/api/login?username=admin&password=hans", timeout=10)

    server = json_lines(stack.log("daphne"))
    access = [r for r in server if r.get("logger") == "access"]
    assert {"time", "client", "method", "path", "status", "bytes"} <= set(access[0])
    assert any(r["method"] == "POST" and r["path"] == API + "/job" for r in access)
    login = next(r for r in access if r["path"].startswith("/core4/api/login"))
    assert "password=***" in login["path"] and "hans" not in login["path"]

    worker = json_lines(stack.log("worker-1"))
    assert any(r["message"] == "start worker [worker-1]" for r in worker)
    assert all({"time", "level", "logger", "pid", "message"} <= set(r) for r in worker + server)

    # the job's own log lines, captured with its output: JSON with the job's id and name
    output = rows(stack, "SELECT stdout FROM queue_job WHERE id = ?", job_id)[0]["stdout"]
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(r["message"] == "start execution" for r in logged)
    assert any(r["message"].startswith("running [") for r in logged)
    assert all(r["job_id"] == job_id and r["job_name"] == DUMMY for r in logged)
    assert "start DummyJob" in output  # what the job prints stays as printed

    lines = requests.get(base + f"{API}/job/log/{job_id}", headers=headers, timeout=10).json()
    levels = {item["message"]: item["level"] for item in lines["data"]}
    assert "INFO" in levels.values()  # the log API still tells the logger's lines


def test_plain_stays_the_default():
    from django.conf import settings

    assert settings.CORE4_LOG_FORMAT == "plain"
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "plain"


@pytest.mark.django_db
def test_the_grafana_dashboard_uses_only_exposed_metrics(client, settings):
    import re

    from tests.support import ROOT

    settings.CORE4_METRICS_TOKEN = TOKEN
    client.get("/health/live")  # at least one HTTP request counted
    reply = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    exposed = set()
    for family in text_string_to_metric_families(reply.content.decode()):
        suffixes = {
            "histogram": ("_bucket", "_count", "_sum"),
            "counter": ("_total",),
        }.get(family.type, ("",))
        exposed.update(family.name + suffix for suffix in suffixes)
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "core4site.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bcore4_[a-z_]+", target["expr"])
    }
    assert used, "the dashboard queries nothing"
    assert used <= exposed, sorted(used - exposed)


def test_json_formatter_and_job_tag_in_process():
    import io
    import logging
    from datetime import datetime

    from core4site.logs import JsonFormatter, access_entry
    from jobqueue.runner import _JobTag

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_JobTag("6b0b146e2e30bb1259b20cfa", "x.Job"))
    logger = logging.getLogger("job.x.Job")
    logger.addHandler(handler)
    try:
        logger.warning("hello %s", "wörld", extra={"attempt": 2})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = json_lines(stream.getvalue())
    assert first["message"] == "hello wörld" and first["level"] == "WARNING"
    assert first["logger"] == "job.x.Job" and first["attempt"] == 2
    assert first["job_id"] == "6b0b146e2e30bb1259b20cfa" and first["job_name"] == "x.Job"
    assert first["time"].endswith("+00:00")
    assert "ValueError: boom" in second["exc_info"]

    entry = json.loads(access_entry("127.0.0.1:5", datetime.now(), "GET /x?token=***", 200, 12))
    assert (entry["method"], entry["path"], entry["status"], entry["bytes"]) == (
        "GET", "/x?token=***", 200, 12,
    )  # fmt: skip
