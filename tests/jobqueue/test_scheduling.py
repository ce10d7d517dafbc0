"""The scheduler's engine (``jobqueue.scheduling``) with fixed clocks: class schedules,
runtime schedules, core4's gap rule, the bookmark, uniqueness, disabling, visibility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events.models import Event
from jobqueue import services, transitions
from jobqueue.errors import JobExists, JobInvalid, JobNotFound
from jobqueue.models import Job, Schedule
from jobqueue.registry import registry
from jobqueue.scheduling import (
    Scheduler,
    bookmark,
    compute_next_run,
    fire,
    sync_class_schedules,
)

pytestmark = pytest.mark.django_db

MINUTE = "tests.jobqueue.scheduled_jobs.MinuteJob"
NOOP = "jobqueue.jobs.example.NoopJob"
T0 = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def scheduled(settings):
    """The scheduled test job classes registered (the registry is rebuilt)."""
    settings.CORE4_JOB_PACKAGES = [*settings.CORE4_JOB_PACKAGES, "tests.jobqueue.scheduled_jobs"]
    return settings


def jobs(name: str) -> list[Job]:
    return list(Job.objects.filter(name=name).order_by("enqueued_at", "id"))


def finish(name: str) -> None:
    """Take the unfinished jobs of ``name`` out of the queue (as if they completed)."""
    for job in Job.objects.filter(name=name, journaled=False):
        services.remove(job.id)


def runtime(name: str = NOOP, since: datetime = T0, **fields) -> Schedule:
    row = Schedule(name=name, **{"cron": "* * * * *", **fields})
    row.next_run = compute_next_run(row, since)
    row.save()
    return row


def test_class_schedule_not_inherited_and_invalid_cron_names_the_class(scheduled):
    entries = {entry.qual_name: entry for entry in registry()}
    assert entries[MINUTE].schedule == "* * * * *"
    assert entries["tests.jobqueue.scheduled_jobs.InheritingJob"].schedule is None
    bad = entries["tests.jobqueue.scheduled_jobs.BadScheduleJob"]
    assert not bad.valid
    assert "job [tests.jobqueue.scheduled_jobs.BadScheduleJob] has an invalid schedule" in bad.error
    with pytest.raises(JobInvalid, match="BadScheduleJob.*invalid schedule"):
        services.enqueue("tests.jobqueue.scheduled_jobs.BadScheduleJob")


def test_a_minute_timer_fires_once_per_minute_with_a_one_second_step(scheduled):
    scheduler = Scheduler()
    scheduler.step(T0)  # syncs: the class row is due at 12:01
    row = Schedule.objects.get(name=MINUTE, source=Schedule.CLASS)
    assert row.next_run == datetime(2026, 6, 1, 12, 1, tzinfo=UTC) and row.enabled
    assert not Schedule.objects.filter(name__endswith="InheritingJob").exists()
    for second in range(1, 30):  # 12:00:31 … 12:00:59: nothing due
        assert scheduler.step(at(second)).fired == 0
    step = scheduler.step(at(30.4))  # 12:01:00.4
    assert step.outcomes == {"enqueued": 1}
    for second in range(31, 90):  # the rest of the minute, and the first half of the next
        assert scheduler.step(at(second)).fired == 0
    assert len(jobs(MINUTE)) == 1
    job = jobs(MINUTE)[0]
    assert job.enqueued_by == "scheduler" and job.schedule_id == row.id and job.args == {}
    row.refresh_from_db()
    assert (row.last_outcome, row.last_job_id, row.last_run) == ("enqueued", job.id, at(30.4))
    assert row.next_run == datetime(2026, 6, 1, 12, 2, tzinfo=UTC)


def test_an_unfinished_instance_is_recorded_as_exists(scheduled):
    scheduler = Scheduler()
    scheduler.step(T0)
    scheduler.step(at(31))  # 12:01:01 enqueues
    step = scheduler.step(at(91))  # 12:02:01: the first one has not run yet
    assert step.outcomes == {"exists": 1}
    row = Schedule.objects.get(name=MINUTE)
    assert row.last_outcome == "exists" and row.enabled
    assert len(jobs(MINUTE)) == 1
    finish(MINUTE)
    assert scheduler.step(at(151)).outcomes == {"enqueued": 1}  # 12:03:01


def test_a_gap_of_many_missed_times_gives_one_enqueue(scheduled):
    scheduler = Scheduler()
    scheduler.step(T0)
    step = scheduler.step(at(10 * 60))  # 12:10:30: ten minutes missed
    assert step.outcomes == {"enqueued": 1}
    assert scheduler.step(at(10 * 60 + 1)).fired == 0
    row = Schedule.objects.get(name=MINUTE)
    assert row.next_run == datetime(2026, 6, 1, 12, 11, tzinfo=UTC)


def test_the_bookmark_is_restored_after_a_restart(scheduled, settings):
    # first life: no scheduled class yet; the bookmark is the last step
    settings.CORE4_JOB_PACKAGES = [p for p in settings.CORE4_JOB_PACKAGES if "scheduled" not in p]
    Scheduler().step(T0)
    assert bookmark() == T0
    assert not Schedule.objects.filter(name=MINUTE).exists()
    # the class got its schedule while no scheduler ran; a new process starts at 12:05:10:
    # due times since the bookmark fire once, as in core4
    settings.CORE4_JOB_PACKAGES = [*settings.CORE4_JOB_PACKAGES, "tests.jobqueue.scheduled_jobs"]
    restarted = Scheduler("scheduler-2")
    assert restarted.step(at(280)).outcomes == {"enqueued": 1}
    assert restarted.step(at(281)).fired == 0
    assert bookmark() == at(281)
    # a runtime schedule keeps its own next_run across a restart: one firing after the gap
    row = runtime(since=at(281))
    # (the class job of 12:05 has not run: exists)
    assert Scheduler("scheduler-3").step(at(600)).outcomes == {"enqueued": 1, "exists": 1}
    row.refresh_from_db()
    assert row.last_run == at(600) and row.next_run == datetime(2026, 6, 1, 12, 11, tzinfo=UTC)


def test_class_rows_follow_the_class(scheduled, settings):
    sync_class_schedules(T0)
    row = Schedule.objects.get(name=MINUTE)
    assert row.source == "class" and row.enabled
    # the class is gone from the registry: disabled with the reason
    settings.CORE4_JOB_PACKAGES = [p for p in settings.CORE4_JOB_PACKAGES if "scheduled" not in p]
    assert sync_class_schedules(at(5)) == {"created": 0, "updated": 0, "disabled": 1}
    row.refresh_from_db()
    assert not row.enabled and "is not registered" in row.reason
    # back: enabled again, due from now on
    settings.CORE4_JOB_PACKAGES = [*settings.CORE4_JOB_PACKAGES, "tests.jobqueue.scheduled_jobs"]
    assert sync_class_schedules(at(100))["updated"] == 1
    row.refresh_from_db()
    assert row.enabled and row.reason == ""
    assert row.next_run == datetime(2026, 6, 1, 12, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "args", "reason"),
    [
        ("no.such.Job", {}, "job [no.such.Job] not found"),
        (NOOP, {"priority": "high"}, "[priority] expected int"),
        (NOOP, ["a"], "schedule arguments expected a JSON object"),
        (NOOP, {"not an identifier": 1}, "argument name [not an identifier]"),
    ],
)
def test_a_schedule_that_cannot_enqueue_is_disabled_not_retried(name, args, reason):
    row = runtime(name, args=args)
    scheduler = Scheduler()
    assert scheduler.step(at(40)).outcomes == {"failed": 1}
    row.refresh_from_db()
    assert not row.enabled and reason in row.reason and row.last_outcome == "failed"
    assert scheduler.step(at(100)).fired == 0  # not every second
    row.refresh_from_db()
    assert row.last_run == at(40)
    assert not Job.objects.exists()


def test_runtime_schedule_with_args_is_visible_in_event_and_detail():
    row = runtime(args={"n": 1, "priority": 3})
    Scheduler().step(at(40))
    job = Job.objects.get(schedule_id=row.id)
    assert job.args == {"n": 1} and job.priority == 3  # settings by name, as at enqueue
    detail = services.job_detail(job)
    assert detail["enqueued"]["by"] == "scheduler"
    assert detail["enqueued"]["schedule_id"] == row.id
    event = Event.objects.filter(name="enqueue_job").latest("id").to_document()
    assert event["author"] == "scheduler"
    assert event["data"]["_id"] == job.id and event["data"]["schedule_id"] == row.id
    # a job enqueued by hand carries no schedule_id in its event
    services.enqueue(NOOP, n=2)
    assert "schedule_id" not in Event.objects.filter(name="enqueue_job").latest("id").data


def test_interval_keeps_its_phase_across_a_gap():
    row = Schedule(name=NOOP, interval=10, next_run=at(10))
    row.save()
    Scheduler().step(at(75))  # due at +10, +20 … +70 missed: one firing
    row.refresh_from_db()
    assert row.last_outcome == "enqueued" and row.next_run == at(80)


def test_the_step_reads_the_zone_berlin_spring_forward():
    row = Schedule(name=NOOP, cron="30 2 * * *", timezone="Europe/Berlin")
    row.next_run = compute_next_run(row, datetime(2026, 3, 28, 12, tzinfo=UTC))
    row.save()
    gap_end = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    assert row.next_run == gap_end
    scheduler = Scheduler()
    assert scheduler.step(gap_end - timedelta(seconds=1)).fired == 0
    assert scheduler.step(gap_end).outcomes == {"enqueued": 1}
    row.refresh_from_db()
    assert row.next_run == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # 02:30 CEST


def test_run_now_fires_without_moving_next_run():
    row = runtime(args={"n": 5})
    next_run = row.next_run
    job = fire(row, by="alice", now=at(5))
    assert job.schedule_id == row.id and job.enqueued_by == "alice"
    assert (row.last_outcome, row.last_job_id, row.next_run) == ("enqueued", job.id, next_run)
    with pytest.raises(JobExists):
        fire(row, by="alice")
    row.refresh_from_db()
    assert row.last_outcome == "exists" and row.enabled
    gone = runtime("no.such.Job")
    with pytest.raises(JobNotFound):
        fire(gone)
    gone.refresh_from_db()
    assert not gone.enabled and gone.last_outcome == "failed"


def test_an_enabled_schedule_without_next_run_is_planned():
    row = Schedule.objects.create(name=NOOP, cron="*/5 * * * *")
    Scheduler().step(T0)
    row.refresh_from_db()
    assert row.next_run == datetime(2026, 6, 1, 12, 5, tzinfo=UTC)


def test_batches_fire_every_due_schedule_once(settings):
    for n in range(7):
        runtime(args={"n": n})
    step = Scheduler(batch=3).step(at(40))
    assert step.outcomes == {"enqueued": 7}
    assert Job.objects.filter(schedule_id__isnull=False).count() == 7
    assert step.next_due == datetime(2026, 6, 1, 12, 2, tzinfo=UTC)


def test_a_batch_writes_one_event_per_job_with_the_counts_after_it(events):
    services.enqueue(NOOP, n=100)  # one pending job before
    for n in range(3):
        runtime(args={"n": n})
    runtime(args={"n": 0})  # the same job as another schedule's: exists
    runtime(args={"n": 100})  # the job enqueued by hand is still there: exists
    step = Scheduler().step(at(40))
    assert step.outcomes == {"enqueued": 3, "exists": 2}
    stored = list(Event.objects.filter(name="enqueue_job").order_by("id"))
    assert [e.data["queue"] for e in stored] == [{"pending": n} for n in (1, 2, 3, 4)]
    assert [e.data.get("schedule_id") is not None for e in stored] == [False, True, True, True]
    assert transitions.counts() == transitions.recount() == {"pending": 4}
    # receivers of job_transition still see every transition, with its counts and author
    assert [(name, counts, author) for name, _, counts, author in events.events] == [
        ("enqueue_job", {"pending": n}, author) for n, author in
        ((1, transitions.os_user()), (2, "scheduler"), (3, "scheduler"), (4, "scheduler"))
    ]  # fmt: skip


def test_a_schedule_whose_time_cannot_be_computed_is_disabled():
    due = Schedule.objects.create(name=NOOP, cron="* * * * *", timezone="Mars/Olympus", next_run=T0)
    unplanned = Schedule.objects.create(name=NOOP, cron="* * * * *", timezone="Mars/Olympus")
    assert Scheduler().step(at(1)).outcomes == {"failed": 1}
    for row in (due, unplanned):
        row.refresh_from_db()
        assert not row.enabled and "unknown timezone [Mars/Olympus]" in row.reason
    assert not Job.objects.exists()


def test_coco_scheduler_runs_the_scheduler_command(monkeypatch):
    from django.core.management import call_command

    from jobqueue.management.commands import coco

    called = []
    monkeypatch.setattr(coco, "call_command", lambda *args: called.append(args))
    call_command("coco", "--scheduler", "sched-9")
    call_command("coco", "--scheduler")
    assert called == [("scheduler", "sched-9"), ("scheduler",)]
