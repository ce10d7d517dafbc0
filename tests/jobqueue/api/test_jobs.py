"""The job API's behaviour for an administrator: listing, detail, enqueue, actions, log, system,
and every error path (core4's envelope and job states)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core4api.ids import utcnow
from events.models import Event
from jobqueue import services, transitions
from jobqueue.models import Job, WorkerRecord
from tests.jobqueue.api.conftest import (
    ECHO,
    OTHER,
    SLEEP,
    WORKER,
    data_of,
    enqueue,
    error_of,
    finish,
    kill,
    run,
)

ENVELOPE = {"_id", "code", "message", "timestamp", "version", "data"}
PAGER = {"page", "per_page", "page_count", "count", "total_count"}


# --- listing -----------------------------------------------------------------------------------
def test_list_is_paged_envelope_of_unfinished_jobs(api):
    jobs = [enqueue(ECHO, args={"segment": n % 3, "n": n}) for n in range(12)]
    finish(enqueue(SLEEP, priority=10), "")  # finished: not listed
    body = api.get("/job", {"per_page": 5, "page": 1}).json()
    assert set(body) == ENVELOPE | PAGER
    assert (body["page"], body["per_page"], body["page_count"], body["count"]) == (1, 5, 3, 5)
    assert body["total_count"] == 12
    assert [item["_id"] for item in body["data"]] == [j.id for j in jobs[5:10]]
    last = api.get("/job", {"per_page": 5, "page": -1}).json()
    assert [item["_id"] for item in last["data"]] == [j.id for j in jobs[10:]]
    beyond = api.get("/job", {"per_page": 5, "page": 7}).json()
    assert beyond["data"] == [] and beyond["count"] == 0


def test_list_items_are_enriched(api):
    pending = enqueue(ECHO, args={"a": 1})
    running = enqueue(SLEEP, priority=1)  # picked first
    run(running)
    transitions.progress(running.id, WORKER, 0.5, "half")
    transitions.request_kill(running.id, "admin")
    items = {item["_id"]: item for item in data_of(api.get("/job"))}
    assert items[pending.id]["highstate"] == "waiting"
    assert items[pending.id]["prog"] == {"value": 0.0, "message": None}
    assert items[pending.id]["age"] >= 0
    assert items[pending.id]["journal"] is False
    assert items[running.id]["highstate"] == "running"
    assert items[running.id]["flag"] == {
        "zombie": False,
        "killed": True,
        "removed": False,
        "nonstop": False,
    }
    assert items[running.id]["prog"] == {"value": 0.5, "message": "half"}
    assert items[running.id]["locked"]["worker"] == WORKER


def test_queue_alias_get_and_post(api):
    jobs = [enqueue(ECHO, args={"segment": n % 3, "n": n}) for n in range(25)]
    for response in (api.get("/job/queue"), api.post("/job/queue")):
        body = response.json()
        assert (body["total_count"], body["page_count"]) == (25, 3)
    # core4's test_job2: filter on an argument from a JSON body
    body = api.post("/job/queue", {"filter": {"args.segment": 0}}).json()
    assert (body["total_count"], body["page_count"]) == (9, 1)
    assert {item["_id"] for item in body["data"]} == {j.id for j in jobs[::3]}


def test_list_filter_and_sort(api):
    a = enqueue(ECHO, args={"n": 1}, priority=1)
    b = enqueue(SLEEP, args={"n": 2}, priority=5)
    c = enqueue(OTHER, args={"n": 3}, priority=3)
    run(b)

    def ids(**query):
        return [item["_id"] for item in data_of(api.get("/job", query))]

    assert ids(filter='{"state": "running"}') == [b.id]
    assert ids(filter='{"state": {"$in": ["pending"]}}') == [a.id, c.id]
    assert ids(filter='{"args.n": {"$gte": 2}}') == [b.id, c.id]
    assert ids(filter='{"priority": {"$gt": 1}, "state": "pending"}') == [c.id]
    assert ids(
        filter='{"$or": [{"qual_name": "tests.jobqueue.api.jobs.EchoJob"}, {"args.n": 3}]}'
    ) == [
        a.id,
        c.id,
    ]
    assert ids(filter=f'{{"_id": "{b.id}"}}') == [b.id]
    assert ids(filter='{"enqueued.at": {"$gte": "2000-01-01T00:00:00"}}') == [a.id, b.id, c.id]
    assert ids(filter='{"started_at": {"$exists": true}}') == [b.id]
    assert ids(sort="priority", order=-1) == [b.id, c.id, a.id]
    assert ids(sort='[["priority", -1]]') == [b.id, c.id, a.id]
    assert ids(sort='[["state", 1], ["_id", -1]]') == [c.id, a.id, b.id]
    assert ids(sort='["qual_name"]') == [a.id, c.id, b.id]
    assert ids() == [a.id, b.id, c.id]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"per_page": 0}, "per_page"),
        ({"per_page": "x"}, "per_page"),
        ({"page": "x"}, "page"),
        ({"sort": "bogus"}, "cannot sort by [bogus]"),
        ({"sort": "[[1, 2]]"}, "sort"),
        ({"sort": '[["_id", 2]]'}, "sort"),
        ({"sort": "[not json"}, "sort"),
        ({"sort": "_id", "order": 3}, "order"),
        ({"filter": '{"bogus": 1}'}, "unknown filter field [bogus]"),
        ({"filter": '{"state": {"$where": 1}}'}, "unknown filter operator"),
        ({"filter": "{not json"}, "parse filter"),
        ({"filter": '{"priority": "abc"}'}, "invalid filter value"),
        ({"filter": '{"enqueued.at": {"$gt": "yesterday"}}'}, ""),
        ({"filter": '{"qual_name": {"$regex": "("}}'}, "regular expression"),
        ({"filter": '{"args": 1}'}, "dotted key"),
        ({"filter": '{"args.a b": 1}'}, "unknown filter field"),
    ],
)
def test_list_bad_input_is_400(api, query, message):
    """Every bad listing argument is a 400 naming it (never a 500)."""
    enqueue(ECHO)
    response = api.get("/job", query)
    assert response.status_code == 400, response.content
    assert message in error_of(response)


def test_list_numbers_beyond_the_columns_are_no_error(api):
    enqueue(ECHO)
    response = api.get("/job", {"filter": '{"priority": {"$gt": 1000000000000000000000000000}}'})
    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        assert response.json()["data"] == []


# --- detail --------------------------------------------------------------------------------------
def test_detail_of_unfinished_and_finished_job(api):
    job = enqueue(ECHO, args={"lines": 1})
    for path in (f"/job/{job.id}", f"/job/detail/{job.id}"):
        data = data_of(api.get(path))
        assert (data["_id"], data["qual_name"], data["state"], data["journal"]) == (
            job.id,
            ECHO,
            "pending",
            False,
        )
        assert data["enqueued"]["by"] == "tester"
        assert data["links"]["self"] == f"/core4/api/v1/job/{job.id}"
    finish(job, "x\n")
    data = data_of(api.get(f"/job/{job.id}"))
    assert (data["state"], data["journal"], data["highstate"]) == ("complete", True, "complete")
    assert data["prog"]["value"] == 1.0
    assert "stdout" not in data  # pages of it: /job/log/<id>


def test_detail_shows_last_error_and_links(api):
    job = enqueue(ECHO)
    run(job)
    transitions.fail(job.id, WORKER, {"exception": "RuntimeError('boom')", "traceback": ["tb"]})
    data = data_of(api.get(f"/job/{job.id}"))
    assert data["state"] == "error" and data["highstate"] == "stopped"
    assert data["last_error"]["exception"] == "RuntimeError('boom')"
    new_id = data_of(api.put(f"/job/restart/{job.id}"))
    parent = data_of(api.get(f"/job/{job.id}"))
    child = data_of(api.get(f"/job/{new_id}"))
    assert parent["journal"] is True
    assert parent["enqueued"]["child_id"] == new_id
    assert parent["links"]["child"] == f"/core4/api/v1/job/{new_id}"
    assert child["enqueued"]["parent_id"] == job.id
    assert child["links"]["parent"] == f"/core4/api/v1/job/{job.id}"
    assert child["trial"] == 1  # carried over


@pytest.mark.parametrize("job_id", ["0" * 24, "nope", "x" * 300])
def test_detail_unknown_is_404(api, job_id):
    response = api.get(f"/job/{job_id}")
    assert response.status_code == 404
    assert "not found" in error_of(response)


# --- enqueue -------------------------------------------------------------------------------------
def test_enqueue_with_settings(api):
    job_id = data_of(
        api.post(
            "/job",
            {
                "qual_name": ECHO,
                "args": {"lines": 1},
                "priority": 7,
                "attempts": 3,
                "force": True,
                "wall_time": None,
                "worker": "w9",
            },
        )
    )
    job = Job.objects.get(pk=job_id)
    assert (job.priority, job.attempts, job.attempts_left, job.force, job.worker) == (
        7,
        3,
        3,
        True,
        "w9",
    )
    assert job.args == {"lines": 1}
    assert Event.objects.filter(name="enqueue_job", author="admin").count() == 1


def test_enqueue_from_query_string_converts_types(api):
    response = api.client.post(
        "/core4/api/v1/job?qual_name=tests.jobqueue.api.jobs.EchoJob&priority=4&force=yes",
        "",
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer " + api.token,
    )
    job = Job.objects.get(pk=data_of(response))
    assert (job.priority, job.force, job.args) == (4, True, {})


def test_enqueue_alias(api):
    job = Job.objects.get(
        pk=data_of(api.post("/job", {"qual_name": "core4.queue.helper.job.example.DummyJob"}))
    )
    assert job.name == "core4.queue.helper.job.example.DummyJob"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "Missing argument qual_name"),
        ({"qual_name": ["x"]}, 400, "qual_name"),
        ({"qual_name": "tests.jobqueue.api.jobs.Nope"}, 404, "not found"),
        ({"qual_name": "tests.jobqueue.api.nomodule.Job"}, 404, "not found"),
        ({"qual_name": "nodots"}, 404, "job [nodots] not found"),
        ({"qual_name": " "}, 400, "qualified name"),
        ({"qual_name": "tests.jobqueue.api.jobs.NOT_A_JOB"}, 404, "not found"),
        ({"qual_name": "tests.jobqueue.api.jobs.NoAuthorJob"}, 400, "missing author"),
        ({"qual_name": ECHO, "args": [1]}, 400, "parameter [args]"),
        ({"qual_name": ECHO, "args": "x"}, 400, "parameter [args]"),
        ({"qual_name": ECHO, "priority": "high"}, 400, "priority"),
        ({"qual_name": ECHO, "priority": 1.5}, 400, "priority"),
        ({"qual_name": ECHO, "priority": 2**40}, 400, "priority"),
        ({"qual_name": ECHO, "attempts": 0}, 400, "attempts"),
        ({"qual_name": ECHO, "attempts": None}, 400, "attempts"),
        ({"qual_name": ECHO, "defer_time": -5}, 400, "defer_time"),
        ({"qual_name": ECHO, "wall_time": "soon"}, 400, "wall_time"),
        ({"qual_name": ECHO, "force": "maybe"}, 400, "force"),
        ({"qual_name": ECHO, "worker": ""}, 400, "worker"),
        ({"qual_name": ECHO, "worker": {"a": 1}}, 400, "worker"),
        ({"qual_name": ECHO, "worker": False}, 400, "worker"),
        ({"qual_name": ECHO, "force": 1}, 400, "force"),
        ({"qual_name": ECHO, "sleep": 3}, 400, "unknown parameter [sleep]"),
        ({"qual_name": ECHO, "trial": 3}, 400, "unknown parameter [trial]"),
        ({"qual_name": ECHO, "follow": "perhaps"}, 400, "follow"),
        ({"qual_name": ECHO, "args": {"x": "a\x00b"}}, 400, "NUL"),
    ],
)
def test_enqueue_errors(api, body, status, message):
    response = api.post("/job", body)
    assert response.status_code == status, response.content
    assert message in error_of(response)
    assert not Job.objects.exists()


def test_enqueue_duplicate_is_400_until_finished(api):
    body = {"qual_name": ECHO, "args": {"b": 1, "a": 2}}
    first = data_of(api.post("/job", body))
    response = api.post("/job", {"qual_name": ECHO, "args": {"a": 2, "b": 1}})
    assert response.status_code == 400
    assert f"job [{ECHO}] exists with args" in error_of(response)
    finish(Job.objects.get(pk=first))
    assert data_of(api.post("/job", body)) != first  # finished jobs no longer block


def test_enqueue_invalid_json_body(api):
    response = api.client.post(
        "/core4/api/v1/job",
        "{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer " + api.token,
    )
    assert response.status_code == 400
    assert "JSON" in error_of(response)


# --- kill / remove / restart -----------------------------------------------------------------------
@pytest.mark.parametrize("action", ["kill", "remove", "restart"])
def test_action_on_unknown_job_is_404(api, action):
    response = api.put(f"/job/{action}/{'0' * 24}")
    assert response.status_code == 404
    assert "not found" in error_of(response)


@pytest.mark.parametrize("action", ["kill", "remove", "restart"])
def test_action_on_finished_job_is_404(api, action):
    job = finish(enqueue(ECHO))
    response = api.put(f"/job/{action}/{job.id}")
    assert response.status_code == 404
    assert "finished" in error_of(response)


def test_kill_needs_a_running_job(api):
    job = enqueue(ECHO)
    response = api.put(f"/job/kill/{job.id}")
    assert response.status_code == 400
    assert "not running" in error_of(response)
    run(job)
    assert data_of(api.put(f"/job/kill/{job.id}")) is True
    again = api.put(f"/job/kill/{job.id}")
    assert again.status_code == 400 and "already" in error_of(again)
    assert Event.objects.filter(name="request_kill_job", author="admin").count() == 1


def test_remove_pending_and_running(api):
    pending = enqueue(ECHO)
    assert data_of(api.put(f"/job/remove/{pending.id}")) is True
    pending.refresh_from_db()
    assert pending.journaled
    assert api.put(f"/job/remove/{pending.id}").status_code == 404
    running = enqueue(SLEEP)
    run(running)
    assert data_of(api.put(f"/job/remove/{running.id}")) is True
    running.refresh_from_db()
    assert not running.journaled and running.removed_at is not None  # removed when it stops
    again = api.put(f"/job/remove/{running.id}")
    assert again.status_code == 400 and "already" in error_of(again)


@pytest.mark.parametrize("state", ["pending", "running"])
def test_restart_in_wrong_state_is_400(api, state):
    job = enqueue(ECHO)
    if state == "running":
        run(job)
    response = api.put(f"/job/restart/{job.id}")
    assert response.status_code == 400
    assert f"cannot restart job [{job.id}] in state [{state}]" in error_of(response)


def test_restart_waiting_job_keeps_its_id(api):
    job = enqueue(ECHO, attempts=2)
    run(job)
    transitions.fail(job.id, WORKER, {"exception": "x", "traceback": None})
    job.refresh_from_db()
    assert job.state == "failed" and job.query_at is not None
    assert data_of(api.put(f"/job/restart/{job.id}")) == job.id
    job.refresh_from_db()
    assert job.query_at is None


def test_restart_stopped_job_creates_new_job(api):
    job = kill(enqueue(ECHO, args={"k": 1}))
    new_id = data_of(api.put(f"/job/restart/{job.id}", {"follow": False}))
    assert new_id != job.id
    new = Job.objects.get(pk=new_id)
    assert (new.name, new.args, new.state, new.parent_id) == (ECHO, {"k": 1}, "pending", job.id)
    assert api.put(f"/job/restart/{job.id}").status_code == 404  # the old one is history


def test_unknown_action_is_405(api):
    job = enqueue(ECHO)
    response = api.put(f"/job/bogus/{job.id}")
    assert response.status_code == 405
    assert "unknown action PUT [bogus]" in error_of(response)
    assert api.get(f"/job/kill/{job.id}").status_code == 405
    assert api.put(f"/job/{job.id}").status_code == 405
    assert api.delete("/job").status_code == 405


# --- log -----------------------------------------------------------------------------------------
def test_log_is_paged(api):
    lines = [f"line {n}" for n in range(25)] + ["2024-01-01 10:00:00,123 WARNING job.x: careful"]
    job = finish(enqueue(ECHO), "\n".join(lines) + "\n")
    body = api.get(f"/job/log/{job.id}", {"per_page": 10, "page": 2}).json()
    assert (body["total_count"], body["page_count"], body["count"]) == (26, 3, 6)
    assert [item["lineno"] for item in body["data"]] == list(range(20, 26))
    assert body["data"][-1]["level"] == "WARNING"
    assert body["data"][0] == {
        "identifier": job.id,
        "qual_name": ECHO,
        "lineno": 20,
        "level": None,
        "message": "line 20",
    }
    empty = api.get(f"/job/log/{enqueue(SLEEP).id}").json()
    assert empty["data"] == [] and empty["total_count"] == 0
    assert api.get(f"/job/log/{'0' * 24}").status_code == 404
    assert api.get(f"/job/log/{job.id}", {"per_page": 0}).status_code == 400


# --- system --------------------------------------------------------------------------------------
def test_system_lists_live_workers_with_running_jobs(api, client, make_user):
    from accounts.tokens import issue_token
    from tests.jobqueue.api.conftest import Api

    reader = make_user(
        "sysreader",
        ["api://core4.api.v1.request.standard.*", r"job://tests\.jobqueue\.api\.jobs\.EchoJob/r"],
    )
    now = utcnow()
    WorkerRecord.objects.create(identifier=WORKER, hostname="h1", pid=11, heartbeat=now)
    WorkerRecord.objects.create(
        identifier="dead", hostname="h2", pid=12, heartbeat=now - timedelta(hours=1)
    )
    WorkerRecord.objects.create(identifier="gone", hostname="h3", pid=13, stopped=now)
    echo, other = enqueue(ECHO), enqueue(OTHER)
    run(echo)
    run(other)
    services.pause("tests")
    data = data_of(api.get("/system"))
    assert [w["identifier"] for w in data["alive"]] == [WORKER]
    worker = data["alive"][0]
    assert (worker["hostname"], worker["pid"]) == ("h1", 11)
    assert [(j["_id"], j["qual_name"]) for j in worker["running"]] == [
        (echo.id, ECHO),
        (other.id, OTHER),
    ]
    assert data["maintenance"] == {"system": False, "project": ["tests"]}
    masked = data_of(Api(client, str(issue_token(reader))).get("/system/"))
    assert [j["qual_name"] for j in masked["alive"][0]["running"]] == [ECHO, "UnauthorizedJob"]
    services.pause()
    assert data_of(api.get("/system"))["maintenance"]["system"] is True


def test_system_needs_its_api_permission(as_user):
    response = as_user("none").get("/system")  # job API only
    assert response.status_code == 403
    assert as_user("cop").post("/system").status_code == 405


def test_pause_and_resume_the_queue_or_a_project(api, client, make_user):
    from accounts.tokens import issue_token
    from tests.jobqueue.api.conftest import Api

    standard = "api://core4.api.v1.request.standard.*"
    operator = Api(
        client, str(issue_token(make_user("operator", [standard, r"job://tests\..*/x"])))
    )
    viewer = Api(client, str(issue_token(make_user("viewer", [standard, r"job://tests\..*/r"]))))

    assert data_of(api.put("/system/pause")) == {"changed": True, "system": True, "project": []}
    assert data_of(api.put("/system/pause"))["changed"] is False
    assert data_of(api.put("/system/resume"))["system"] is False

    whole = operator.put("/system/pause")
    assert whole.status_code == 403 and "need cop" in error_of(whole)
    assert data_of(operator.put("/system/pause", {"project": "tests"}))["project"] == ["tests"]
    assert data_of(api.get("/system"))["maintenance"] == {"system": False, "project": ["tests"]}
    other = operator.put("/system/pause", {"project": "jobqueue"})
    assert other.status_code == 403 and "job://jobqueue.*/x" in error_of(other)
    assert viewer.put("/system/resume", {"project": "tests"}).status_code == 403
    assert data_of(operator.put("/system/resume?project=tests"))["project"] == []

    for bad in ["", "a.b", "x y", "1abc", "a" * 101]:
        response = api.put("/system/pause", {"project": bad})
        assert response.status_code == 400, bad
    assert api.put("/system/stop").status_code == 405
    assert api.get("/system/pause").status_code == 405
    assert Api(client).put("/system/pause").status_code == 401


def test_quiet_stop_and_resume_one_worker(api, as_user, client, make_user):
    from accounts.tokens import issue_token
    from tests.jobqueue.api.conftest import Api

    now = utcnow()
    WorkerRecord.objects.create(identifier=WORKER, hostname="h1", pid=11, heartbeat=now)
    WorkerRecord.objects.create(identifier="w/2", hostname="h1", pid=12, heartbeat=now)
    WorkerRecord.objects.create(
        identifier="dead", hostname="h2", pid=13, heartbeat=now - timedelta(hours=1)
    )

    def modes():
        return {w["identifier"]: w["mode"] for w in data_of(api.get("/system"))["alive"]}

    assert modes() == {WORKER: "active", "w/2": "active"}
    quiet = data_of(api.put(f"/system/worker/{WORKER}/quiet"))
    assert quiet == {"identifier": WORKER, "mode": "quiet", "changed": True}
    assert data_of(api.put(f"/system/worker/{WORKER}/quiet"))["changed"] is False
    assert modes() == {WORKER: "quiet", "w/2": "active"}
    assert data_of(api.put(f"/system/worker/{WORKER}/resume"))["mode"] == "active"
    assert data_of(api.put("/system/worker/w/2/stop"))["mode"] == "stopping"
    assert modes() == {WORKER: "active", "w/2": "stopping"}
    refused = api.put("/system/worker/w/2/resume")
    assert refused.status_code == 400 and "cannot be undone" in error_of(refused)
    assert api.put("/system/worker/dead/quiet").status_code == 404
    assert api.put("/system/worker/nobody/stop").status_code == 404
    assert api.put(f"/system/worker/{WORKER}/bogus").status_code == 405
    assert api.get(f"/system/worker/{WORKER}/quiet").status_code == 405
    assert as_user("x").put(f"/system/worker/{WORKER}/quiet").status_code == 403  # no system API
    operator = make_user("operator", ["api://core4.api.v1.request.standard.*", r"job://.*/x"])
    refused = Api(client, str(issue_token(operator))).put(f"/system/worker/{WORKER}/stop")
    assert refused.status_code == 403 and "need cop" in error_of(refused)
    assert modes()[WORKER] == "active"
