"""``/core4/api/v1/schedule``: schedules managed at run time over REST, and ``/job/list``'s
class schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core4api.ids import utcnow
from jobqueue.models import Job, Schedule
from tests.jobqueue.api.conftest import ECHO, OTHER, data_of, error_of

pytestmark = pytest.mark.django_db

SCHEDULED = "tests.jobqueue.api.jobs.ScheduledJob"


def create(api, **body):
    body.setdefault("name", ECHO)
    if "cron" not in body and "interval" not in body:
        body["interval"] = 60
    return data_of(api.post("/schedule", body))


def class_row(name=SCHEDULED, **fields):
    fields.setdefault("next_run", utcnow())
    return Schedule.objects.create(name=name, cron="0 3 29 2 *", source=Schedule.CLASS, **fields)


def when(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- create ---------------------------------------------------------------------------------
def test_create_with_interval_computes_next_run(api):
    before = utcnow()
    data = create(api, args={"lines": 2}, interval=90)
    assert data["name"] == ECHO and data["args"] == {"lines": 2}
    assert data["interval"] == 90 and data["cron"] is None and data["schedule"] == "every 90 s"
    assert data["enabled"] and data["source"] == "runtime" and data["etag"] == 1
    assert data["created_by"] == "admin" and data["last_run"] is None
    assert (
        before + timedelta(seconds=90) <= when(data["next_run"]) <= utcnow() + timedelta(seconds=90)
    )
    assert Schedule.objects.get(pk=data["_id"]).next_run == when(data["next_run"])


def test_create_with_cron_in_a_zone(api):
    data = create(api, cron="30  7 * * *", timezone="Europe/Berlin")
    assert data["cron"] == "30 7 * * *" and data["timezone"] == "Europe/Berlin"
    assert data["schedule"] == "30 7 * * * (Europe/Berlin)"
    from zoneinfo import ZoneInfo

    local = when(data["next_run"]).astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (7, 30)


def test_create_disabled_has_no_next_run(api):
    data = create(api, enabled=False, reason="not yet")
    assert not data["enabled"] and data["next_run"] is None and data["reason"] == "not yet"


def test_create_from_the_query_string(api):
    response = api.client.post(
        "/core4/api/v1/schedule?name=" + ECHO + "&interval=30&enabled=no",
        HTTP_AUTHORIZATION="Bearer " + api.token,
    )
    data = data_of(response)
    assert data["interval"] == 30 and data["enabled"] is False


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (
            {"name": "tests.jobqueue.api.jobs.Nope", "interval": 5},
            404,
            "job [tests.jobqueue.api.jobs.Nope] not found",
        ),
        ({"name": "os.system", "interval": 5}, 404, "not found"),
        ({"name": "tests.jobqueue.api.jobs.NoAuthorJob", "interval": 5}, 400, "missing author"),
        ({"name": ECHO}, 400, "exactly one of [cron] and [interval]"),
        ({"name": ECHO, "cron": "* * * * *", "interval": 5}, 400, "exactly one"),
        ({"name": ECHO, "cron": "every minute"}, 400, "invalid cron expression"),
        ({"name": ECHO, "cron": "* * * * * *"}, 400, "five fields"),
        ({"name": ECHO, "interval": 0}, 400, "interval must be between"),
        ({"name": ECHO, "interval": 1.5}, 400, "whole seconds"),
        ({"name": ECHO, "interval": "often"}, 400, "parameter [interval]"),
        ({"name": ECHO, "interval": 5, "timezone": "Mars/Olympus"}, 400, "unknown timezone"),
        ({"name": ECHO, "interval": 5, "args": [1]}, 400, "parameter [args]"),
        ({"name": ECHO, "interval": 5, "enabled": "maybe"}, 400, "parameter [enabled]"),
        ({"name": ECHO, "interval": 5, "reason": "x" * 1001}, 400, "longer than 1000"),
        ({"name": ECHO, "interval": 5, "priority": 3}, 400, "unknown parameter [priority]"),
        ({"name": "", "interval": 5}, 400, "parameter [name]"),
        ({"name": 42, "interval": 5}, 400, "parameter [name]"),
        ({"interval": 5}, 400, "parameter [name]"),
        ({"name": ECHO, "cron": "x" * 300}, 400, "longer than 255"),
    ],
)
def test_bad_input_is_a_clear_error(api, body, status, words):
    response = api.post("/schedule", body)
    assert response.status_code == status, response.content
    assert words in error_of(response)
    assert not Schedule.objects.exists()


# --- permissions and masking ------------------------------------------------------------------
def test_create_needs_execute_permission(as_user):
    for level in ("none", "r"):
        response = as_user(level).post("/schedule", {"name": ECHO, "interval": 60})
        assert response.status_code == 403
        assert error_of(response) == f"no permission to execute job [{ECHO}]"
    assert create(as_user("x"))["name"] == ECHO
    response = as_user("x").post("/schedule", {"name": OTHER, "interval": 60})
    assert response.status_code == 403


def test_listing_is_masked_and_hidden_ones_do_not_count(api, as_user):
    mine = create(api)
    create(api, name=OTHER, args={"secret": "s3cr3t"})
    class_row()
    everything = api.get("/schedule").json()
    assert everything["total_count"] == 3
    reply = as_user("r").get("/schedule")
    body = reply.json()
    assert [item["_id"] for item in body["data"]] == [mine["_id"]]
    assert body["total_count"] == 1
    assert b"OtherJob" not in reply.content and b"s3cr3t" not in reply.content
    filtered = as_user("r").get("/schedule", {"filter": '{"name": {"$regex": "Other"}}'})
    assert filtered.json()["total_count"] == 0
    assert as_user("none").get("/schedule").json()["total_count"] == 0


def test_hidden_schedule_detail_and_actions_name_only_the_id(api, as_user):
    other = create(api, name=OTHER)
    user = as_user("x")
    for response in (
        user.get(f"/schedule/{other['_id']}"),
        user.put(f"/schedule/{other['_id']}", {"etag": 1, "interval": 5}),
        user.delete(f"/schedule/{other['_id']}", {"etag": 1}),
        user.post(f"/schedule/{other['_id']}/run"),
    ):
        assert response.status_code == 403
        assert error_of(response) == f"no permission to access schedule [{other['_id']}]"
        assert b"OtherJob" not in response.content


def test_readers_may_not_change_or_run(api, as_user):
    mine = create(api)
    reader = as_user("r")
    assert data_of(reader.get(f"/schedule/{mine['_id']}"))["_id"] == mine["_id"]
    for response in (
        reader.put(f"/schedule/{mine['_id']}", {"etag": 1, "interval": 5}),
        reader.delete(f"/schedule/{mine['_id']}", {"etag": 1}),
        reader.post(f"/schedule/{mine['_id']}/run"),
    ):
        assert response.status_code == 403
        assert "no permission to execute job" in error_of(response)


def test_renaming_needs_execute_on_the_new_name(api, as_user):
    mine = create(as_user("x"))
    response = as_user("x").put(f"/schedule/{mine['_id']}", {"etag": 1, "name": OTHER})
    assert response.status_code == 403
    assert Schedule.objects.get(pk=mine["_id"]).name == ECHO


def test_needs_the_job_api(client, make_user):
    from accounts.tokens import issue_token
    from tests.support import Api

    user = make_user("nobody", ["job://.*/x"])
    response = Api(client, str(issue_token(user))).get("/schedule")
    assert response.status_code == 403
    assert client.get("/core4/api/v1/schedule").status_code == 401


# --- detail, update with etag, delete --------------------------------------------------------
def test_unknown_id_is_404(api):
    for response in (
        api.get("/schedule/" + "0" * 24),
        api.put("/schedule/" + "0" * 24, {"etag": 1}),
        api.delete("/schedule/" + "0" * 24, {"etag": 1}),
        api.post("/schedule/" + "0" * 24 + "/run"),
    ):
        assert response.status_code == 404
        assert error_of(response) == f"schedule [{'0' * 24}] not found"


def test_update_with_etag(api):
    data = create(api)
    updated = data_of(
        api.put(
            f"/schedule/{data['_id']}",
            {"etag": 1, "cron": "*/5 * * * *", "interval": None, "timezone": "Asia/Tokyo"},
        )
    )
    assert updated["etag"] == 2 and updated["cron"] == "*/5 * * * *"
    assert updated["interval"] is None and updated["timezone"] == "Asia/Tokyo"
    assert when(updated["next_run"]).minute % 5 == 0
    # the old etag is stale now
    stale = api.put(f"/schedule/{data['_id']}", {"etag": 1, "args": {"lines": 1}})
    assert stale.status_code == 400
    assert error_of(stale) == f"update [{data['_id']}] with etag [1] failed"
    # the same values again: no changes, etag kept
    same = api.put(f"/schedule/{data['_id']}", {"etag": "2", "timezone": "Asia/Tokyo"})
    assert data_of(same) == "no changes"
    assert Schedule.objects.get(pk=data["_id"]).etag == 2


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"interval": 5}, "MissingArgumentError: Missing argument etag"),
        ({"etag": [1], "interval": 5}, "parameter [etag]"),
        ({"etag": 1, "cron": "* * * * *"}, "exactly one of [cron] and [interval]"),
        ({"etag": 1, "name": "tests.jobqueue.api.jobs.Nope"}, "not found"),
        ({"etag": 1, "state": "x"}, "unknown parameter [state]"),
    ],
)
def test_bad_updates(api, body, words):
    data = create(api)
    response = api.put(f"/schedule/{data['_id']}", body)
    assert response.status_code in (400, 404)
    assert words in error_of(response)
    assert Schedule.objects.get(pk=data["_id"]).etag == 1


def test_disable_and_enable_through_update(api):
    data = create(api)
    off = data_of(api.put(f"/schedule/{data['_id']}", {"etag": 1, "enabled": False}))
    assert not off["enabled"] and off["next_run"] is None and off["reason"] == "disabled by admin"
    on = data_of(api.put(f"/schedule/{data['_id']}", {"etag": 2, "enabled": True}))
    assert on["enabled"] and on["next_run"] and on["reason"] == ""


def test_delete_with_etag(api):
    data = create(api)
    stale = api.delete(f"/schedule/{data['_id']}", {"etag": 7})
    assert stale.status_code == 400 and "with etag [7] failed" in error_of(stale)
    response = api.client.delete(
        f"/core4/api/v1/schedule/{data['_id']}?etag=1",
        HTTP_AUTHORIZATION="Bearer " + api.token,
    )
    assert data_of(response) is True
    assert not Schedule.objects.exists()


def test_class_schedules_are_listed_read_only(api):
    row = class_row()
    listed = data_of(api.get("/schedule", {"filter": '{"source": "class"}'}))
    assert [item["_id"] for item in listed] == [row.id]
    for response in (
        api.put(f"/schedule/{row.id}", {"etag": 1, "interval": 5}),
        api.delete(f"/schedule/{row.id}", {"etag": 1}),
    ):
        assert response.status_code == 400
        assert "comes from the job class" in error_of(response)
        assert "read-only" in error_of(response)
    assert Schedule.objects.get(pk=row.id).etag == 1


# --- run now ----------------------------------------------------------------------------------
def test_run_now_enqueues_and_records_the_outcome(api):
    data = create(api, args={"lines": 1})
    job_id = data_of(api.post(f"/schedule/{data['_id']}/run"))
    job = Job.objects.get(pk=job_id)
    assert job.name == ECHO and job.args == {"lines": 1} and job.enqueued_by == "admin"
    detail = data_of(api.get(f"/schedule/{data['_id']}"))
    assert detail["last_outcome"] == "enqueued" and detail["last_job_id"] == job_id
    assert detail["last_run"] and detail["next_run"] == data["next_run"]
    again = api.post(f"/schedule/{data['_id']}/run")
    assert again.status_code == 400 and "exists" in error_of(again)
    assert data_of(api.get(f"/schedule/{data['_id']}"))["last_outcome"] == "exists"


# --- listing ----------------------------------------------------------------------------------
def test_paged_filtered_sorted(api):
    ids = [create(api, interval=60 * (n + 1))["_id"] for n in range(5)]
    create(api, cron="0 0 * * *", enabled=False)
    body = api.get("/schedule", {"per_page": 2, "page": 1}).json()
    assert [item["_id"] for item in body["data"]] == ids[2:4]
    assert (body["total_count"], body["page_count"]) == (6, 3)
    enabled = api.get("/schedule", {"filter": '{"enabled": true}', "per_page": 100}).json()
    assert enabled["total_count"] == 5
    latest = data_of(api.get("/schedule", {"sort": "next_run", "order": -1}))
    times = [item["next_run"] for item in latest if item["next_run"]]
    assert times == sorted(times, reverse=True)
    bad = api.get("/schedule", {"filter": '{"nope": 1}'})
    assert bad.status_code == 400


# --- /job/list ----------------------------------------------------------------------------------
def test_job_list_shows_class_schedules_and_next_run(api):
    items = {item["_id"]: item for item in data_of(api.get("/job/list", {"per_page": 1000}))}
    scheduled = items[SCHEDULED]
    assert scheduled["schedule"] == "0 3 29 2 *"
    computed = when(scheduled["next_run"])
    assert (computed.hour, computed.minute) == (3, 0) and computed > utcnow()
    assert items["tests.jobqueue.api.jobs.InheritsScheduleJob"]["schedule"] is None
    assert items["tests.jobqueue.api.jobs.InheritsScheduleJob"]["next_run"] is None
    assert items[ECHO]["schedule"] is None and items[ECHO]["next_run"] is None
    # with a class row kept by the scheduler, its next_run is shown
    due = datetime(2030, 1, 2, 3, 0, tzinfo=UTC)
    class_row(next_run=due)
    items = {item["_id"]: item for item in data_of(api.get("/job/list", {"per_page": 1000}))}
    assert items[SCHEDULED]["next_run"] == "2030-01-02T03:00:00"
