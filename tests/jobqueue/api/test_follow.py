"""Server-sent events of ``follow`` in-process: frames, order, end conditions, bounds.

(Streaming a job that a real worker runs, and client disconnects, are in ``test_live``.)
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connections

from jobqueue import transitions
from jobqueue.api.streaming import follow_job
from jobqueue.models import Job
from tests.jobqueue.api.conftest import (
    ECHO,
    WORKER,
    data_of,
    enqueue,
    error_of,
    finish,
    kill,
    parse_sse,
    run,
    sse_events,
)


@pytest.fixture
def fast_follow(settings):
    settings.CORE4_JOB_FOLLOW_POLL = 0.02
    settings.CORE4_JOB_FOLLOW_MAX = 0.4
    settings.CORE4_JOB_FOLLOW_KEEPALIVE = 0.1
    return settings


def raw_text(response) -> str:
    async def collect():
        return b"".join([part async for part in response.streaming_content])

    return async_to_sync(collect)().decode()


def test_follow_complete_job(api):
    job = finish(enqueue(ECHO), "one\ntwo\n2024-01-01 00:00:00,000 INFO    job.x: done")
    response = api.get(f"/job/follow/{job.id}")
    assert response["X-Accel-Buffering"] == "no"
    events = sse_events(response)
    assert [e for e, _ in events] == ["log", "log", "log", "state", "close"]
    assert [d["message"] for e, d in events if e == "log"] == [
        "one",
        "two",
        "2024-01-01 00:00:00,000 INFO    job.x: done",
    ]
    assert events[2][1]["level"] == "INFO"
    state = events[3][1]
    assert (state["_id"], state["state"], state["journal"]) == (job.id, "complete", True)
    assert state == data_of(api.get(f"/job/{job.id}")) | {"age": state["age"]}
    assert events[-1] == ("close", {"state": 1, "log": 3, "reason": "final"})


@pytest.mark.parametrize("accept", ["text/event-stream", "text/html", "application/xml"])
def test_follow_whatever_the_accept_header(api, accept):
    """Browsers' EventSource always sends ``Accept: text/event-stream``: never a 406."""
    job = finish(enqueue(ECHO), "one")
    response = api.get(f"/job/follow/{job.id}", HTTP_ACCEPT=accept)
    assert [e for e, _ in sse_events(response)] == ["log", "state", "close"]
    assert api.get(f"/job/{job.id}", HTTP_ACCEPT=accept)["Content-Type"].startswith(
        "application/json"
    )


def test_follow_killed_job(api):
    job = kill(enqueue(ECHO))
    events = sse_events(api.get(f"/job/follow/{job.id}"))
    assert [e for e, _ in events] == ["log", "state", "close"]
    assert events[1][1]["state"] == "killed"
    assert events[1][1]["highstate"] == "stopped"
    assert events[-1][1]["reason"] == "final"


def test_follow_removed_job_ends(api):
    job = enqueue(ECHO)
    transitions.request_remove(job.id, "admin")
    events = sse_events(api.get(f"/job/follow/{job.id}"))
    assert [e for e, _ in events] == ["state", "close"]
    assert events[0][1]["journal"] is True and events[0][1]["flag"]["removed"] is True


def test_follow_is_bounded_in_time(api, fast_follow):
    """A job that does not move: the stream ends after CORE4_JOB_FOLLOW_MAX, with keepalives."""
    job = enqueue(ECHO)
    text = raw_text(api.get(f"/job/follow/{job.id}"))
    events = parse_sse(text)
    assert [e for e, _ in events] == ["state", "close"]
    assert events[0][1]["state"] == "pending"
    assert events[-1][1] == {"state": 1, "log": 0, "reason": "timeout"}
    assert ": keepalive\n\n" in text


def test_enqueue_with_follow_streams_the_new_job(api, fast_follow):
    response = api.post("/job", {"qual_name": ECHO, "args": {"n": 1}, "follow": True})
    events = sse_events(response)
    job = Job.objects.get()
    assert events[0][0] == "state"
    assert (events[0][1]["_id"], events[0][1]["state"]) == (job.id, "pending")
    assert events[-1][0] == "close"


def test_restart_with_follow_streams_the_new_job(api, fast_follow):
    job = kill(enqueue(ECHO))
    events = sse_events(api.put(f"/job/restart/{job.id}", {"follow": True}))
    child = Job.objects.get(parent_id=job.id)
    assert events[0][1]["_id"] == child.id
    assert events[0][1]["enqueued"]["parent_id"] == job.id


def test_log_follow_streams_only_log_lines(api):
    job = finish(enqueue(ECHO), "a\nb\n")
    response = api.get(f"/job/log/{job.id}", {"follow": "true"})
    events = sse_events(response)
    assert events == [
        ("log", {"identifier": job.id, "qual_name": ECHO, "lineno": 0, "level": None,
                 "message": "a"}),
        ("log", {"identifier": job.id, "qual_name": ECHO, "lineno": 1, "level": None,
                 "message": "b"}),
        ("close", {"log": 2, "reason": "final"}),
    ]  # fmt: skip


def test_follow_errors_are_envelopes(api):
    response = api.get(f"/job/follow/{'0' * 24}")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "not found" in error_of(response)
    assert api.get(f"/job/log/{'0' * 24}", {"follow": True}).status_code == 404
    assert api.get("/job/follow/x", {"follow": "perhaps"}).status_code == 404


# --- the generator against a changing job ------------------------------------------------------
@pytest.fixture
async def db_thread_cleanup():
    """sync_to_async's worker thread opens its own connection: close it (PostgreSQL would
    otherwise refuse to drop the test database)."""
    yield
    await sync_to_async(connections.close_all)()


async def _frames(stream, until):
    """Collect parsed frames from ``stream`` until ``until(events)`` holds."""
    events = []
    async for chunk in stream:
        events.extend(parse_sse(chunk.decode()))
        if until(events):
            return events
    return events


@pytest.mark.django_db(transaction=True)
async def test_stream_follows_changes_and_retried_output(settings, db_thread_cleanup):
    """States on every change, and a retry's output (which replaces the job's output) is
    streamed from its start."""
    settings.CORE4_JOB_FOLLOW_POLL = 0.02
    job = await sync_to_async(enqueue)(ECHO, attempts=2, error_time=1)
    stream = follow_job(job.id)
    events = await _frames(stream, lambda ev: ev)
    assert [(e, d["state"]) for e, d in events] == [("state", "pending")]

    await sync_to_async(run)(job)
    events = await _frames(stream, lambda ev: ev)
    assert [(e, d["state"]) for e, d in events] == [("state", "running")]

    failure = {"exception": "RuntimeError()", "traceback": None}
    await sync_to_async(transitions.fail)(job.id, WORKER, failure, "first run\n")
    events = await _frames(stream, lambda ev: any(e == "state" for e, _ in ev))
    assert [e for e, _ in events] == ["log", "state"]
    assert events[0][1]["message"] == "first run"
    assert events[1][1]["state"] == "failed"

    def retry():
        Job.objects.filter(pk=job.id).update(query_at=None)
        run(job)
        transitions.fail(job.id, WORKER, failure, "second run, longer output\n")

    await sync_to_async(retry)()
    events = await _frames(stream, lambda ev: ev and ev[-1][0] == "close")
    logs = [d["message"] for e, d in events if e == "log"]
    assert logs == ["second run, longer output"]
    states = [d["state"] for e, d in events if e == "state"]
    assert states[-1] == "error"
    assert events[-1][1]["reason"] == "final"


@pytest.mark.django_db(transaction=True)
async def test_stream_ends_when_the_job_disappears(settings, db_thread_cleanup):
    settings.CORE4_JOB_FOLLOW_POLL = 0.02
    job = await sync_to_async(enqueue)(ECHO)
    stream = follow_job(job.id)
    assert (await anext(stream)).startswith(b"event: state\n")
    await sync_to_async(Job.objects.filter(pk=job.id).delete)()
    events = await _frames(stream, lambda ev: ev and ev[-1][0] == "close")
    assert events[-1] == ("close", {"state": 1, "log": 0, "reason": "gone"})
