"""The permission matrix of the job API: none / r / x / cop × every operation, and masking.

``none`` has API access to the job API but no job rights; ``r`` and ``x`` have them on the
EchoJob/SleepJob family only; ``cop`` is the administrator. A user must never learn the name
of a job it may not read — not in listings, details, streams or errors.
"""

from __future__ import annotations

import pytest

from events.models import Event
from jobqueue.models import Job
from tests.jobqueue.api.conftest import (
    ECHO,
    OTHER,
    Api,
    data_of,
    enqueue,
    error_of,
    finish,
    kill,
    run,
    sse_events,
)

LEVELS = ("none", "r", "x", "cop")
READ = {"none": False, "r": True, "x": True, "cop": True}
EXECUTE = {"none": False, "r": False, "x": True, "cop": True}


def assert_no_name(response, *names):
    for name in names or ("EchoJob", "SleepJob", "OtherJob"):
        assert name.encode() not in response.content, response.content


@pytest.mark.parametrize("level", LEVELS)
def test_list(as_user, level):
    echo = enqueue(ECHO, args={"lines": 1})
    other = enqueue(OTHER, args={"secret": "s3cr3t"})
    response = as_user(level).get("/job")
    items = {item["_id"]: item for item in data_of(response)}
    assert set(items) == {echo.id, other.id}
    assert response.json()["total_count"] == 2
    if READ[level]:
        assert items[echo.id]["qual_name"] == ECHO
        assert items[echo.id]["args"] == {"lines": 1}
    else:
        assert items[echo.id]["qual_name"] == "UnauthorizedJob"
        assert items[echo.id]["args"] is None
        assert_no_name(response)
    if level == "cop":
        assert items[other.id]["qual_name"] == OTHER
    else:
        assert items[other.id]["qual_name"] == "UnauthorizedJob"
        assert items[other.id]["args"] is None
        assert_no_name(response, "OtherJob", "s3cr3t")


@pytest.mark.parametrize("level", LEVELS)
def test_detail(as_user, level):
    job = enqueue(ECHO)
    response = as_user(level).get(f"/job/{job.id}")
    if READ[level]:
        assert data_of(response)["qual_name"] == ECHO
    else:
        assert response.status_code == 403
        assert job.id in error_of(response)
        assert_no_name(response)


@pytest.mark.parametrize("level", LEVELS)
def test_enqueue(as_user, level):
    response = as_user(level).post("/job", {"qual_name": ECHO, "args": {"lines": 2}})
    if EXECUTE[level]:
        job = Job.objects.get(pk=data_of(response))
        author = "admin" if level == "cop" else f"user_{level}"
        assert (job.name, job.args, job.enqueued_by) == (ECHO, {"lines": 2}, author)
    else:
        assert response.status_code == 403
        assert "permission" in error_of(response)
        # checked before anything is written: no job, no event
        assert not Job.objects.exists()
        assert not Event.objects.exists()


@pytest.mark.parametrize("level", LEVELS)
def test_kill(as_user, level):
    job = enqueue(ECHO)
    run(job)
    response = as_user(level).put(f"/job/kill/{job.id}")
    job.refresh_from_db()
    if EXECUTE[level]:
        assert data_of(response) is True
        assert job.killed_at is not None
    else:
        assert response.status_code == 403
        assert job.killed_at is None
        if not READ[level]:
            assert_no_name(response)


@pytest.mark.parametrize("level", LEVELS)
def test_remove(as_user, level):
    job = enqueue(ECHO)
    response = as_user(level).put(f"/job/remove/{job.id}")
    job.refresh_from_db()
    if EXECUTE[level]:
        assert data_of(response) is True
        assert job.journaled and job.removed_at is not None
    else:
        assert response.status_code == 403
        assert not job.journaled and job.removed_at is None
        if not READ[level]:
            assert_no_name(response)


@pytest.mark.parametrize("level", LEVELS)
def test_restart(as_user, level):
    job = kill(enqueue(ECHO))
    response = as_user(level).put(f"/job/restart/{job.id}")
    if EXECUTE[level]:
        new_id = data_of(response)
        assert new_id != job.id
        assert Job.objects.get(pk=new_id).parent_id == job.id
    else:
        assert response.status_code == 403
        assert Job.objects.count() == 1
        if not READ[level]:
            assert_no_name(response)


@pytest.mark.parametrize("level", LEVELS)
def test_follow(as_user, level):
    job = finish(enqueue(ECHO), "hello\n")
    response = as_user(level).get(f"/job/follow/{job.id}")
    if READ[level]:
        events = sse_events(response)
        assert [e for e, _ in events] == ["log", "state", "close"]
    else:
        assert response.status_code == 403
        assert_no_name(response)


@pytest.mark.parametrize("level", LEVELS)
def test_log(as_user, level):
    job = finish(enqueue(ECHO), "hello\n")
    response = as_user(level).get(f"/job/log/{job.id}")
    if READ[level]:
        assert [line["message"] for line in data_of(response)] == ["hello"]
    else:
        assert response.status_code == 403
        assert_no_name(response)


@pytest.mark.parametrize("level", ["r", "x"])
def test_other_family_is_invisible(as_user, level):
    """Rights on one family give nothing on another job: detail, actions, stream, log 403."""
    other = enqueue(OTHER, args={"secret": 1})
    api = as_user(level)
    for response in (
        api.get(f"/job/{other.id}"),
        api.get(f"/job/follow/{other.id}"),
        api.get(f"/job/log/{other.id}"),
        api.put(f"/job/kill/{other.id}"),
        api.put(f"/job/remove/{other.id}"),
        api.put(f"/job/restart/{other.id}"),
    ):
        assert response.status_code == 403, response.content
        assert_no_name(response, "OtherJob")
    assert api.post("/job", {"qual_name": OTHER}).status_code == 403


def test_read_only_user_error_may_name_readable_job(as_user):
    job = enqueue(ECHO)
    response = as_user("r").put(f"/job/remove/{job.id}")
    assert response.status_code == 403
    assert ECHO in error_of(response)


def test_api_permission_is_required(client, users, make_user):
    from accounts.tokens import issue_token

    job = enqueue(ECHO)
    # job rights without the api:// right of the job API
    user = make_user("jobs_only", [r"job://.*/x", "api://core4.api.v1.request.standard.*"])
    api = Api(client, str(issue_token(user)))
    for response in (
        api.get("/job"),
        api.get(f"/job/{job.id}"),
        api.post("/job", {"qual_name": ECHO, "args": {"x": 1}}),
        api.put(f"/job/remove/{job.id}"),
        api.get(f"/job/follow/{job.id}"),
    ):
        assert response.status_code == 403, response.content
    assert api.get("/system").status_code == 200  # the standard handlers include system


def test_api_method_letters(client, make_user):
    """``api://…JobRequest/r`` reads but cannot enqueue (c) or act (u)."""
    from accounts.tokens import issue_token

    job = enqueue(ECHO)
    user = make_user("reader", ["api://core4.api.v1.request.job.JobRequest/r", "job://.*/x"])
    api = Api(client, str(issue_token(user)))
    assert api.get("/job").status_code == 200
    assert api.get(f"/job/{job.id}").status_code == 200
    assert api.post("/job", {"qual_name": ECHO, "args": {"y": 1}}).status_code == 403
    assert api.put(f"/job/kill/{job.id}").status_code == 403


def test_unauthenticated(client, db):
    job = enqueue(ECHO)
    api = Api(client)
    for response in (
        api.get("/job"),
        api.get(f"/job/{job.id}"),
        api.post("/job", {"qual_name": ECHO}),
        api.put(f"/job/kill/{job.id}"),
        api.get(f"/job/follow/{job.id}"),
        api.get("/system"),
    ):
        assert response.status_code == 401
        error_of(response)
        assert_no_name(response)
    bad = Api(client, "not-a-token")
    assert bad.get("/job").status_code == 401


def test_masked_filters_and_sort_leak_nothing(as_user):
    """Filters and sort on name/args see ``UnauthorizedJob`` and null for unreadable jobs."""
    other = enqueue(OTHER, args={"n": 2})  # older id, later name
    echo = enqueue(ECHO, args={"n": 1})
    none, reader, admin = as_user("none"), as_user("r"), as_user("cop")

    def ids(api, **query):
        return [item["_id"] for item in data_of(api.get("/job", query))]

    # a regex on the hidden name finds nothing, also counted
    for pattern in ("Other", "^tests", "Echo"):
        flt = f'{{"qual_name": {{"$regex": "{pattern}"}}}}'
        assert ids(none, filter=flt) == []
        assert none.get("/job", {"filter": flt}).json()["total_count"] == 0
    assert ids(reader, filter='{"qual_name": {"$regex": "Other"}}') == []
    assert ids(reader, filter='{"qual_name": {"$regex": "Echo"}}') == [echo.id]
    assert ids(admin, filter='{"qual_name": {"$regex": "Other"}}') == [other.id]
    # the masked name itself matches
    assert ids(none, filter='{"qual_name": "UnauthorizedJob"}') == [other.id, echo.id]
    assert ids(reader, filter='{"name": "UnauthorizedJob"}') == [other.id]
    # free-text search works on the masked names too
    assert ids(none, filter="Job") == [other.id, echo.id]
    assert ids(reader, filter="Other") == []
    # arguments of unreadable jobs are null for filters, negations included
    assert ids(none, filter='{"args.n": 2}') == []
    assert ids(none, filter='{"args.n": {"$ne": 2}}') == ids(none, filter='{"args.n": {"$ne": 1}}')
    assert ids(reader, filter='{"args.n": 2}') == []
    assert ids(reader, filter='{"args.n": 1}') == [echo.id]
    assert ids(admin, filter='{"args.n": 2}') == [other.id]
    # sorted by name, masked jobs keep id order (their names play no part)
    assert ids(none, sort="qual_name") == [other.id, echo.id]
    assert ids(none, sort='[["qual_name", -1]]') == [other.id, echo.id]
    assert ids(admin, sort="qual_name") == [echo.id, other.id]
