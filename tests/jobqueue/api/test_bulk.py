"""``PUT /job/bulk``: one action on many jobs, each checked on its own, bounded."""

from __future__ import annotations

import pytest

from jobqueue.models import Job
from tests.jobqueue.api.conftest import ECHO, OTHER, SLEEP, data_of, enqueue, kill, run

pytestmark = pytest.mark.django_db


def bulk(api, action, ids):
    return api.put("/job/bulk", {"action": action, "ids": ids})


def test_remove_many_with_a_result_per_job(api):
    jobs = [enqueue(ECHO, args={"n": n}) for n in range(3)]
    results = data_of(bulk(api, "remove", [job.id for job in jobs] + ["f" * 24]))
    assert [results[job.id] for job in jobs] == [{"ok": True, "data": True}] * 3
    assert results["f" * 24]["ok"] is False and results["f" * 24]["code"] == 404
    assert Job.objects.filter(journaled=True).count() == 3
    again = data_of(bulk(api, "remove", [jobs[0].id]))
    assert again[jobs[0].id] == {
        "ok": False, "code": 404, "error": f"job [{jobs[0].id}] not found (finished as pending)"
    }  # fmt: skip


def test_kill_and_restart_report_each_job(api):
    running = run(enqueue(SLEEP))
    pending = enqueue(ECHO)
    results = data_of(bulk(api, "kill", [running.id, pending.id]))
    assert results[running.id] == {"ok": True, "data": True}
    assert results[pending.id]["ok"] is False and results[pending.id]["code"] == 400
    assert "not running" in results[pending.id]["error"]
    assert Job.objects.get(pk=running.id).killed_at is not None


def test_restart_is_retry_now_for_waiting_and_a_new_job_for_stopped(api):
    killed = kill(enqueue(SLEEP))
    failed = enqueue(ECHO, args={"failed": True})
    Job.objects.filter(pk=failed.pk).update(state="failed", query_at="2099-01-01T00:00:00Z")
    results = data_of(bulk(api, "restart", [killed.id, failed.id]))
    assert results[failed.id] == {"ok": True, "data": failed.id}  # same id, runs now
    assert Job.objects.get(pk=failed.pk).query_at is None
    child = results[killed.id]["data"]
    assert results[killed.id]["ok"] and child != killed.id
    assert Job.objects.get(pk=child).parent_id == killed.id


def test_every_job_is_checked_for_execute_permission(as_user):
    mine = enqueue(ECHO, args={"n": 1})
    other = enqueue(OTHER, args={"secret": "s3cr3t"})
    response = bulk(as_user("x"), "remove", [mine.id, other.id])
    results = data_of(response)
    assert results[mine.id] == {"ok": True, "data": True}
    assert results[other.id] == {
        "ok": False, "code": 403, "error": f"no permission to access job [{other.id}]"
    }  # fmt: skip
    assert b"OtherJob" not in response.content
    assert not Job.objects.get(pk=other.pk).journaled
    reader = data_of(bulk(as_user("r"), "remove", [enqueue(ECHO, args={"n": 2}).id]))
    assert [result["code"] for result in reader.values()] == [403]
    assert bulk(as_user("none"), "remove", [mine.id]).status_code == 200  # per job: 403


def test_bounded_and_validated(api, settings):
    settings.CORE4_JOB_BULK_MAX = 3
    response = bulk(api, "remove", ["a" * 24] * 4)
    assert response.status_code == 400
    assert "CORE4_JOB_BULK_MAX (3)" in response.json()["error"]
    assert bulk(api, "explode", []).status_code == 400
    assert bulk(api, "remove", [1, 2]).status_code == 400
    assert bulk(api, "remove", "abc").status_code == 400
    assert api.put("/job/bulk", {"action": "remove"}).status_code == 400
    assert data_of(bulk(api, "remove", [])) == {}
    assert api.get("/job/bulk").status_code == 405


def test_duplicate_ids_act_once(api):
    job = enqueue(ECHO)
    assert data_of(bulk(api, "remove", [job.id, job.id])) == {job.id: {"ok": True, "data": True}}


# --- POST /job/bulk: enqueue many ---------------------------------------------------------------
def enqueue_many(api, jobs):
    return api.post("/job/bulk", {"jobs": jobs})


def test_enqueue_many_with_a_result_per_job(api):
    existing = enqueue(ECHO, args={"n": 0})
    jobs = [{"qual_name": ECHO, "args": {"n": n}, "priority": 3} for n in range(3)]
    results = data_of(enqueue_many(api, jobs + [jobs[1]]))
    assert results[0] == {
        "ok": False, "code": 400, "error": f"job [{ECHO}] exists with args {{'n': 0}}"
    }  # fmt: skip
    assert [r["ok"] for r in results] == [False, True, True, False]
    created = Job.objects.filter(pk__in=[r["data"] for r in results if r["ok"]])
    assert sorted(job.args["n"] for job in created) == [1, 2]
    assert {job.priority for job in created} == {3} and {job.enqueued_by for job in created} == {
        "admin"
    }
    assert existing.id not in {r.get("data") for r in results}


def test_enqueue_many_needs_execute_on_every_job(as_user):
    jobs = [{"qual_name": ECHO, "args": {"n": 1}}, {"qual_name": OTHER}]
    response = enqueue_many(as_user("x"), jobs)
    assert response.status_code == 403
    assert f"no permission to execute job [{OTHER}]" in response.json()["error"]
    assert not Job.objects.exists()
    assert enqueue_many(as_user("r"), jobs[:1]).status_code == 403
    assert enqueue_many(as_user("none"), jobs[:1]).status_code == 403
    assert data_of(enqueue_many(as_user("x"), jobs[:1]))[0]["ok"] is True


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"jobs": "x"}, 400, "jobs"),
        ({}, 400, "Missing argument jobs"),
        ({"jobs": [1]}, 400, "jobs[0]: expected an object"),
        ({"jobs": [{"qual_name": ECHO, "colour": 1}]}, 400, "jobs[0]: unknown parameter [colour]"),
        ({"jobs": [{"qual_name": ""}]}, 400, "jobs[0]: parameter [qual_name]"),
        ({"jobs": [{"qual_name": ECHO, "args": [1]}]}, 400, "jobs[0]: parameter [args]"),
        ({"jobs": [{"qual_name": ECHO, "priority": "x"}]}, 400, "jobs[0]: [priority]"),
        ({"jobs": [{"qual_name": "tests.jobqueue.api.jobs.Nope"}]}, 404, "jobs[0]: job ["),
    ],
)
def test_enqueue_many_bad_input(api, body, status, text):
    response = api.post("/job/bulk", body)
    assert response.status_code == status, response.content
    assert text in response.json()["error"]
    assert not Job.objects.exists()


def test_enqueue_many_bounded(api, settings):
    settings.CORE4_ENQUEUE_MANY_MAX = 2
    response = enqueue_many(api, [{"qual_name": ECHO, "args": {"n": n}} for n in range(3)])
    assert response.status_code == 400
    assert "CORE4_ENQUEUE_MANY_MAX (2)" in response.json()["error"]
    assert data_of(enqueue_many(api, [])) == []
