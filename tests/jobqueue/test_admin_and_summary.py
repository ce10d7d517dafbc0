"""Admin actions, summary rows, the summary lease and the daily commands."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from core4api.ids import utcnow
from jobqueue import services, transitions
from jobqueue.models import Control, Job, Lease
from jobqueue.summary import summary_rows
from jobqueue.worker import Worker

SLEEP = "tests.jobqueue.jobs.SleepJob"


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("boss", ["cop"], password="pw"))
    return client


@pytest.mark.django_db
def test_admin_lists_filters_and_acts_through_transitions(admin_client, events):
    running = services.enqueue(SLEEP, n=1)
    transitions.pick("w")
    pending = services.enqueue(SLEEP, n=2)
    url = reverse("admin:queue_job_changelist")
    page = admin_client.get(url, {"state": "pending"})
    assert page.status_code == 200 and pending.id in page.text and running.id not in page.text
    detail = admin_client.get(reverse("admin:queue_job_change", args=[pending.id]))
    assert detail.status_code == 200 and "stdout" in detail.text
    admin_client.post(url, {"action": "kill_jobs", "_selected_action": [running.id, pending.id]})
    admin_client.post(url, {"action": "remove_jobs", "_selected_action": [pending.id]})
    assert Job.objects.get(pk=running.id).killed_at is not None
    assert Job.objects.get(pk=pending.id).journaled
    authors = {name: author for name, _, _, author in events.events}
    assert authors["request_kill_job"] == "boss" and authors["remove_job"] == "boss"
    assert "request_kill_job" not in events.names(pending.id)  # not running: refused


@pytest.mark.django_db
def test_summary_rows():
    assert summary_rows() == []
    a = services.enqueue(SLEEP, n=1)
    services.enqueue(SLEEP, n=2)
    services.enqueue("tests.jobqueue.jobs.FailingJob")
    transitions.pick("w")  # a → running
    transitions.progress(a.id, "w", 0.5, "half")
    services.kill(a.id)
    rows = summary_rows()
    assert rows == [
        {"name": "tests.jobqueue.jobs.FailingJob", "state": "pending", "n": 1, "zombie": False,
         "wall": False, "removed": False, "killed": False, "progress": None},
        {"name": SLEEP, "state": "pending", "n": 1, "zombie": False, "wall": False,
         "removed": False, "killed": False, "progress": None},
        {"name": SLEEP, "state": "running", "n": 1, "zombie": False, "wall": False,
         "removed": False, "killed": True, "progress": 0.5},
    ]  # fmt: skip
    assert [(r["state"], r["name"]) for r in rows] == sorted((r["state"], r["name"]) for r in rows)


@pytest.mark.django_db(transaction=True)
def test_one_summary_lease_holder_and_takeover(fast, events):
    first, second = Worker("w-1", 1), Worker("w-2", 1)
    assert first.duties.hold("summary") is True
    assert second.duties.hold("summary") is False
    first.duties.run("summary")
    second.duties.run("summary")
    assert len(events.summaries) == 1
    Lease.objects.update(expires="2000-01-01T00:00:00Z")  # first died
    assert second.duties.hold("summary") is True and first.duties.hold("summary") is False


@pytest.mark.django_db(transaction=True)
def test_daily_commands_once_a_day_and_unknown_skipped(fast, caplog):
    fast.CORE4_WORKER_DAILY_COMMANDS = ["nosuchcommand", "check"]
    worker = Worker("w-1", 1)
    worker.duties["daily"].run(utcnow())
    assert "daily command [nosuchcommand] does not exist" in caplog.text
    assert len(worker.duties["daily"].pids) == 1
    pid = worker.duties["daily"].pids[0]
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    worker.duties["daily"].pids.clear()
    worker.duties["daily"].run(utcnow())  # the same day: not again
    assert worker.duties["daily"].pids == [] and Control.objects.filter(key="daily").exists()
