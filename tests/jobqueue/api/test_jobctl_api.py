"""Issue #12 items 5-7 in the job API: the ``error_time`` spec and ``timeout`` at enqueue,
``result`` in a job's document (not in listings), the follow stream and the journal."""

from __future__ import annotations

import pytest

from jobqueue import transitions
from jobqueue.models import Job
from tests.jobqueue.api.conftest import (
    ECHO,
    SLEEP,
    WORKER,
    data_of,
    enqueue,
    error_of,
    run,
    sse_events,
)

SPEC = {"base": 5, "factor": 3, "max": 600, "jitter": 0.2}


def complete_with(job, result):
    run(job)
    return transitions.complete(job.id, WORKER, "out\n", result)


def test_enqueue_with_backoff_and_timeout(api):
    job_id = data_of(
        api.post("/job", {"qual_name": ECHO, "args": {"n": 1}, "error_time": SPEC, "timeout": 9})
    )
    job = Job.objects.get(pk=job_id)
    assert job.error_time == SPEC and job.timeout == 9 and job.args == {"n": 1}
    data = data_of(api.get(f"/job/{job_id}"))
    assert data["error_time"] == SPEC and data["timeout"] == 9 and data["result"] is None


def test_enqueue_backoff_from_the_query_string(api):
    response = api.client.post(
        '/core4/api/v1/job?qual_name=tests.jobqueue.api.jobs.EchoJob&error_time={"base":2}'
        "&timeout=3",
        "",
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer " + api.token,
    )
    job = Job.objects.get(pk=data_of(response))
    assert job.error_time == {"base": 2, "factor": 2, "max": 86_400, "jitter": 0}
    assert job.timeout == 3
    plain = api.client.post(
        "/core4/api/v1/job?qual_name=tests.jobqueue.api.jobs.SleepJob&error_time=7",
        "",
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer " + api.token,
    )
    assert Job.objects.get(pk=data_of(plain)).error_time == 7


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"error_time": {"base": 5, "max": 1}}, "[error_time.base] must not exceed max"),
        ({"error_time": {"bas": 5}}, "unknown backoff key [bas]"),
        ({"error_time": [5]}, "[error_time] expected int or backoff spec"),
        ({"error_time": {"base": 5, "jitter": 2}}, "[error_time.jitter]"),
        ({"timeout": 0}, "[timeout] > 0 expected"),
        ({"timeout": 1.5}, "[timeout] expected int"),
        ({"timeout": "soon"}, "parameter [timeout] expected as_type [int]"),
    ],
)
def test_bad_backoff_or_timeout_is_a_400_naming_the_field(api, settings, message):
    response = api.post("/job", {"qual_name": ECHO, **settings})
    assert response.status_code == 400
    assert message in error_of(response)


def test_bad_backoff_in_the_query_string_is_a_400(api):
    response = api.client.post(
        "/core4/api/v1/job?qual_name=tests.jobqueue.api.jobs.EchoJob&error_time={nope",
        "",
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer " + api.token,
    )
    assert response.status_code == 400 and "error_time" in error_of(response)


def test_result_in_the_detail_and_the_journal_item_not_in_listings(api):
    value = {"rows": [1, 2], "text": "<b>ü</b>"}
    job = complete_with(enqueue(ECHO, args={"n": 1}), value)
    other = enqueue(SLEEP)
    assert data_of(api.get(f"/job/{job.id}"))["result"] == value
    assert data_of(api.get(f"/job/{other.id}"))["result"] is None
    assert all("result" not in item for item in data_of(api.get("/job")))
    journal = data_of(api.get("/job/journal"))
    assert [item["_id"] for item in journal] == [job.id]
    assert "result" not in journal[0]


def test_follow_state_frames_carry_the_result(api):
    job = complete_with(enqueue(ECHO, args={"n": 2}), [1, "two"])
    frames = sse_events(api.get(f"/job/follow/{job.id}"))
    states = [data for event, data in frames if event == "state"]
    assert states and states[-1]["result"] == [1, "two"]
    assert frames[-1][0] == "close"
