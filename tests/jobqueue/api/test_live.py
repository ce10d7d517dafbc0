"""The job API against a real daphne and a real worker: streams of running jobs.

One product stack (own database, daphne, a worker with three slots) serves the module;
clients are ``requests`` streams, as core4's own tests use them.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.support import LiveStack, wait_for

pytestmark = pytest.mark.e2e

ECHO = "tests.jobqueue.api.jobs.EchoJob"
SLEEP = "tests.jobqueue.api.jobs.SleepJob"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, test_redis):
    stack = LiveStack(tmp_path_factory.mktemp("live-api"), test_redis)
    try:
        stack.start_daphne()
        stack.start_worker("api-worker", "--concurrency", "3")
        stack.token = stack.login()
        yield stack
    finally:
        stack.stop()


class Client:
    def __init__(self, stack):
        self.base = stack.base_url + "/core4/api/v1"
        self.headers = {"Authorization": "Bearer " + stack.token}

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", (5, 60))
        return requests.request(method, self.base + path, headers=self.headers, **kwargs)


@pytest.fixture
def client(stack):
    return Client(stack)


def sse(response):
    """Yield ``(event, data)`` from a streaming ``requests`` response as frames arrive."""
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    buffer = ""
    for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
        buffer += chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            event = data = None
            for line in block.splitlines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
            if event:
                yield event, data


def test_enqueue_and_follow_a_running_job_to_completion(client):
    response = client.request(
        "POST",
        "/job",
        json={"qual_name": ECHO, "args": {"lines": 5, "sleep": 0.3}, "follow": True},
        stream=True,
    )
    events = list(sse(response))
    names = [e for e, _ in events]
    assert names[-1] == "close" and names.count("close") == 1
    states = [d["state"] for e, d in events if e == "state"]
    assert "running" in states
    assert states[-1] == "complete"
    assert states.index("running") < len(states) - 1
    logs = [d["message"] for e, d in events if e == "log"]
    assert [m for m in logs if m.startswith("hello world")] == [
        f"hello world {n}" for n in range(5)
    ]
    assert sum("start execution" in m for m in logs) == 1
    assert any(
        d["level"] == "INFO" and "echo done" in d["message"] for e, d in events if e == "log"
    )
    assert events[-1][1] == {"state": len(states), "log": len(logs), "reason": "final"}
    job_id = events[0][1]["_id"]
    # progress was reported while it ran, and the detail agrees with the last frame
    detail = client.request("GET", f"/job/{job_id}").json()["data"]
    assert detail["state"] == "complete" and detail["journal"] is True
    assert detail["prog"]["value"] == 1.0
    log = client.request("GET", f"/job/log/{job_id}", params={"per_page": 100}).json()
    assert [item["message"] for item in log["data"]] == logs


def test_follow_a_job_that_is_killed(client):
    job_id = client.request("POST", "/job", json={"qual_name": SLEEP, "args": {"n": 1}}).json()[
        "data"
    ]
    response = client.request("GET", f"/job/follow/{job_id}", stream=True)
    states = []
    killed = False
    events = []
    for event, data in sse(response):
        events.append((event, data))
        if event == "state":
            states.append(data["state"])
            started = data["state"] == "running" and (data["locked"] or {}).get("pid")
            if started and not killed:
                kill = client.request("PUT", f"/job/kill/{job_id}")
                assert kill.status_code == 200 and kill.json()["data"] is True
                killed = True
    assert killed
    assert states[-1] == "killed"
    last_state = [d for e, d in events if e == "state"][-1]
    assert last_state["flag"]["killed"] is True
    assert last_state["highstate"] == "stopped"
    assert events[-1][0] == "close" and events[-1][1]["reason"] == "final"
    # a killed job restarts as a new job, linked to the old one
    restart = client.request("PUT", f"/job/restart/{job_id}")
    new_id = restart.json()["data"]
    assert restart.status_code == 200 and new_id != job_id
    child = client.request("GET", f"/job/{new_id}").json()["data"]
    assert child["enqueued"]["parent_id"] == job_id
    wait_for(
        lambda: client.request("GET", f"/job/{new_id}").json()["data"]["state"] == "running",
        60,
    )
    assert client.request("PUT", f"/job/kill/{new_id}").status_code == 200
    wait_for(
        lambda: client.request("GET", f"/job/{new_id}").json()["data"]["state"] == "killed", 60
    )


def test_stream_ends_when_the_client_disconnects(stack, client):
    job_id = client.request("POST", "/job", json={"qual_name": SLEEP, "args": {"n": 2}}).json()[
        "data"
    ]
    response = client.request("GET", f"/job/follow/{job_id}", stream=True)
    first = next(sse(response))
    assert first[0] == "state" and first[1]["_id"] == job_id
    response.close()
    wait_for(
        lambda: f"follow of job [{job_id}] ended: client disconnected" in stack.log("daphne"),
        30,
        message="daphne did not notice the disconnect",
    )
    # the server keeps serving, and the job was not touched by the disconnect
    assert client.request("GET", f"/job/{job_id}").json()["data"]["state"] in ("pending", "running")
    wait_for(
        lambda: client.request("GET", f"/job/{job_id}").json()["data"]["state"] == "running", 60
    )
    assert client.request("PUT", f"/job/kill/{job_id}").status_code == 200


def test_system_shows_the_worker_and_its_jobs(client):
    job_id = client.request("POST", "/job", json={"qual_name": SLEEP, "args": {"n": 3}}).json()[
        "data"
    ]

    def running_here():
        data = client.request("GET", "/system").json()["data"]
        workers = {w["identifier"]: w for w in data["alive"]}
        worker = workers.get("api-worker")
        return worker and job_id in [j["_id"] for j in worker["running"]] and worker

    worker = wait_for(running_here, 60)
    assert worker["pid"] > 0 and worker["heartbeat"]
    assert client.request("PUT", f"/job/kill/{job_id}").status_code == 200
