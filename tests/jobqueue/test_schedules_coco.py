"""``coco --schedules`` and the schedule actions, word for word; and the schedule services
that the admin, REST and coco share (``jobqueue.schedules``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from jobqueue import schedules
from jobqueue.errors import JobError, JobInvalid, JobNotFound, JobStateError
from jobqueue.models import Job, Schedule
from tests.jobqueue.test_coco import coco, coco_error

pytestmark = pytest.mark.django_db

SLEEP = "tests.jobqueue.jobs.SleepJob"
SCHEDULED = "tests.jobqueue.api.jobs.ScheduledJob"


def table(text: str) -> list[list[str]]:
    """coco's table as rows of cells (columns cut at the header's dashes)."""
    lines = text.splitlines()
    spans = [m.span() for m in re.finditer(r"-+", lines[1])]
    return [[line[a:b].strip() for a, b in spans] for line in [lines[0], *lines[2:]]]


def test_no_schedules():
    assert coco("--schedules")[0] == "no schedules.\n"


def test_schedules_table_lists_every_column():
    cron = schedules.create(SLEEP, by="ops", cron="0 6 * * 1", timezone="Europe/Berlin")
    every = schedules.create(SLEEP, by="ops", interval=300, args={"sleep": 1}, enabled=False,
                             reason="holiday")  # fmt: skip
    Schedule.objects.create(name=SCHEDULED, cron="0 3 29 2 *", source=Schedule.CLASS,
                            next_run=datetime(2031, 1, 1, 3, tzinfo=UTC))  # fmt: skip
    rows = table(coco("--schedules")[0])
    assert rows[0] == ["_id", "name", "schedule", "zone", "enabled", "next run (UTC)",
                       "last run (UTC)", "outcome"]  # fmt: skip
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id[cron.id][1:5] == [SLEEP, "0 6 * * 1 (Europe/Berlin)", "Europe/Berlin", "yes"]
    assert by_id[cron.id][5] == cron.next_run.strftime("%Y-%m-%d %H:%M:%S")
    assert by_id[every.id][2:5] == ["every 300 s", "UTC", "no: holiday"]
    assert by_id[every.id][5] == ""
    klass = next(row for row in rows[1:] if row[1] == SCHEDULED)
    assert klass[4] == "yes (class)" and klass[5] == "2031-01-01 03:00:00"


def test_enable_disable_run_in_words():
    s = schedules.create(SLEEP, interval=60, args={"sleep": 0})
    out = coco("--disable-schedule", s.id, "--reason", "maintenance window", "--by", "ops")[0]
    assert out == f"schedule [{s.id}]: disabled\n"
    s.refresh_from_db()
    assert not s.enabled and s.reason == "maintenance window" and s.next_run is None
    assert coco("--disable-schedule", s.id)[0] == f"schedule [{s.id}]: disabled already\n"
    out = coco("--enable-schedule", s.id)[0]
    s.refresh_from_db()
    assert s.enabled and s.reason == "" and s.next_run is not None
    assert out == (
        f"schedule [{s.id}]: enabled, next run {s.next_run.strftime('%Y-%m-%d %H:%M:%S')} UTC\n"
    )
    out = coco("--run-schedule", s.id, "--by", "ops")[0]
    job = Job.objects.get(name=SLEEP)
    assert out == f"schedule [{s.id}]: enqueued [{job.id}]\n"
    assert job.enqueued_by == "ops" and job.args == {"sleep": 0}
    assert coco_error("--run-schedule", s.id) == f"job [{SLEEP}] exists with args {{'sleep': 0}}"
    s.refresh_from_db()
    assert s.last_outcome == "exists" and s.last_job_id == job.id


def test_errors_are_one_line():
    assert coco_error("--enable-schedule", "nope") == "schedule [nope] not found"
    row = Schedule.objects.create(name=SCHEDULED, cron="0 3 29 2 *", source=Schedule.CLASS)
    assert "read-only" in coco_error("--disable-schedule", row.id)


def test_disable_by_default_names_who():
    s = schedules.create(SLEEP, interval=60)
    coco("--disable-schedule", s.id, "--by", "ops")
    s.refresh_from_db()
    assert s.reason == "disabled by ops"


# --- the services -----------------------------------------------------------------------------
def test_validation_once_for_every_caller():
    with pytest.raises(JobNotFound, match=r"job \[venv.__main__.X\] not found"):
        schedules.create("venv.__main__.X", interval=5)
    with pytest.raises(JobInvalid, match="exactly one"):
        schedules.create(SLEEP)
    with pytest.raises(JobInvalid, match="unknown field"):
        schedules.create(SLEEP, interval=5, priority=1)
    with pytest.raises(JobInvalid, match="unknown timezone"):
        schedules.create(SLEEP, interval=5, timezone="Nowhere/Town")
    assert not Schedule.objects.exists()


def test_update_needs_the_current_etag_and_bumps_it():
    s = schedules.create(SLEEP, interval=60)
    with pytest.raises(JobStateError, match=rf"update \[{s.id}\] with etag \[5\] failed"):
        schedules.update(s.id, 5, interval=30)
    assert schedules.update(s.id, 1, interval=60) is None
    updated = schedules.update(s.id, 1, interval=30)
    assert updated.etag == 2 and updated.interval == 30
    with pytest.raises(JobError):
        schedules.delete(s.id, 1)
    schedules.delete(s.id, 2)
    assert not Schedule.objects.exists()


def test_class_rows_are_read_only_but_can_run_now():
    row = Schedule.objects.create(name=SCHEDULED, cron="0 3 29 2 *", source=Schedule.CLASS)
    for call in (
        lambda: schedules.update(row.id, 1, cron="0 4 * * *"),
        lambda: schedules.delete(row.id, 1),
        lambda: schedules.enable(row.id),
        lambda: schedules.disable(row.id),
    ):
        with pytest.raises(schedules.ScheduleReadOnly, match="read-only"):
            call()
    job = schedules.run_now(row.id, by="ops")
    assert job.name == SCHEDULED
