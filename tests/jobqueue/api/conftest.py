"""Fixtures of the job API tests: users along the permission matrix and jobs in every state."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync

from jobqueue import services, transitions
from tests.support import API, Api, error_of, make_user  # noqa: F401 - re-exported to the tests

JOB_API = "api://core4.api.v1.request.job.JobRequest"
ECHO = "tests.jobqueue.api.jobs.EchoJob"
SLEEP = "tests.jobqueue.api.jobs.SleepJob"
OTHER = "tests.jobqueue.api.jobs.OtherJob"
#: job permissions per row of the matrix (all on the EchoJob/SleepJob family only)
LEVELS = {
    "none": [JOB_API],
    "r": [JOB_API, r"job://tests\.jobqueue\.api\.jobs\.(Echo|Sleep)Job/r"],
    "x": [JOB_API, r"job://tests\.jobqueue\.api\.jobs\.(Echo|Sleep)Job/x"],
    "cop": ["cop"],
}


def data_of(response, status=200):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == status and body["message"] == "OK"
    return body["data"]


def sse_events(response) -> list[tuple[str, object]]:
    """Parse a server-sent events reply into ``(event, data)`` pairs (comments skipped)."""
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"] == "no-cache"

    async def collect():
        return b"".join([part async for part in response.streaming_content])

    return parse_sse(async_to_sync(collect)().decode())


def parse_sse(text: str) -> list[tuple[str, object]]:
    events = []
    for block in text.split("\n\n"):
        event, data = None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: ") :])
        if event:
            events.append((event, data))
    return events


@pytest.fixture
def admin(db):
    return make_user("admin", ["cop"])


@pytest.fixture
def users(db, admin):
    """One logged-in ``Api`` per permission level (``cop`` is the admin)."""
    return {
        level: make_user(f"user_{level}", perm) if level != "cop" else admin
        for level, perm in LEVELS.items()
    }


@pytest.fixture
def as_user(client, users):
    """``as_user(level)`` → an ``Api`` authenticated as that level's user."""
    from accounts.tokens import issue_token

    def make(level):
        return Api(client, str(issue_token(users[level])))

    return make


@pytest.fixture
def api(as_user):
    return as_user("cop")


WORKER = "test-worker"


def enqueue(name=ECHO, **kwargs):
    return services.enqueue(name, by="tester", **kwargs)


def run(job, *, worker=WORKER):
    """Take ``job`` (the next pickable) into ``running`` as a worker would."""
    picked = transitions.pick(worker)
    assert picked is not None and picked.id == job.id, picked
    transitions.start(job.id, worker, pid=12345)
    return picked


def finish(job, stdout="", worker=WORKER):
    run(job, worker=worker)
    return transitions.complete(job.id, worker, stdout)


def kill(job, worker=WORKER):
    run(job, worker=worker)
    return transitions.killed(job.id, worker, "JobKilledByWorker", "killed output\n")
