"""The schedules in the Django admin: created, changed and acted on through the schedule
services, validated as REST validates, class schedules read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jobqueue import schedules
from jobqueue.models import Job, Schedule

pytestmark = pytest.mark.django_db

SLEEP = "tests.jobqueue.jobs.SleepJob"
SCHEDULED = "tests.jobqueue.api.jobs.ScheduledJob"


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("boss", ["cop"], password="pw"))
    return client


def form(**fields):
    data = {"name": SLEEP, "args": "{}", "cron": "", "interval": "", "timezone": "UTC",
            "enabled": "on", "reason": ""}  # fmt: skip
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def test_add_validates_like_rest_and_computes_next_run(admin_client):
    url = reverse("admin:queue_schedule_add")
    page = admin_client.post(url, form(name="venv.__main__.X", interval="60"))
    assert page.status_code == 200 and "job [venv.__main__.X] not found" in page.text
    page = admin_client.post(url, form(cron="*/5 * * * *", interval="60"))
    assert "give exactly one of [cron] and [interval]" in page.text
    page = admin_client.post(url, form(cron="0 7 * * *", timezone="Mars/Base"))
    assert "unknown timezone [Mars/Base]" in page.text
    assert not Schedule.objects.exists()
    page = admin_client.post(url, form(cron="0 7 * * *", timezone="Europe/Berlin",
                                       args='{"sleep": 1}'))  # fmt: skip
    assert page.status_code == 302, page.text
    schedule = Schedule.objects.get()
    assert schedule.created_by == "boss" and schedule.args == {"sleep": 1}
    assert schedule.next_run is not None and schedule.source == Schedule.RUNTIME


def test_change_bumps_the_etag_and_refuses_a_stale_form(admin_client):
    schedule = schedules.create(SLEEP, interval=60)
    url = reverse("admin:queue_schedule_change", args=[schedule.id])
    assert admin_client.get(url).status_code == 200
    page = admin_client.post(url, form(interval="120", etag="1"))
    assert page.status_code == 302
    schedule.refresh_from_db()
    assert schedule.interval == 120 and schedule.etag == 2
    page = admin_client.post(url, form(interval="30", etag="1"))
    assert "was changed meanwhile" in page.text
    assert Schedule.objects.get(pk=schedule.id).interval == 120


def test_list_and_actions(admin_client):
    schedule = schedules.create(SLEEP, interval=60, args={"sleep": 0})
    klass = Schedule.objects.create(name=SCHEDULED, cron="0 3 29 2 *", source=Schedule.CLASS)
    url = reverse("admin:queue_schedule_changelist")
    page = admin_client.get(url)
    assert page.status_code == 200 and "every 60 s" in page.text and "0 3 29 2 *" in page.text
    admin_client.post(url, {"action": "disable_schedules", "_selected_action": [schedule.id]})
    schedule.refresh_from_db()
    assert not schedule.enabled and schedule.reason == "disabled in the admin by boss"
    admin_client.post(url, {"action": "enable_schedules", "_selected_action": [schedule.id]})
    schedule.refresh_from_db()
    assert schedule.enabled and schedule.next_run is not None
    admin_client.post(url, {"action": "run_schedules", "_selected_action": [schedule.id]})
    job = Job.objects.get(name=SLEEP)
    assert job.enqueued_by == "boss"
    schedule.refresh_from_db()
    assert schedule.last_job_id == job.id and schedule.last_outcome == "enqueued"
    # a class schedule: read-only, not deleted by the bulk delete either
    page = admin_client.post(url, {"action": "disable_schedules", "_selected_action": [klass.id]},
                             follow=True)  # fmt: skip
    assert "read-only" in page.text
    change = admin_client.post(
        reverse("admin:queue_schedule_change", args=[klass.id]), form(interval="5", etag="1")
    )
    assert change.status_code == 403
    both = {"action": "delete_selected", "_selected_action": [klass.id, schedule.id], "post": "yes"}
    assert admin_client.post(url, both).status_code == 403  # Django refuses the whole bulk
    assert Schedule.objects.count() == 2
    one = {"action": "delete_selected", "_selected_action": [schedule.id], "post": "yes"}
    admin_client.post(url, one)
    assert list(Schedule.objects.values_list("id", flat=True)) == [klass.id]
