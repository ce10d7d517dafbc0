"""Enqueue: job classes, settings, arguments, uniqueness, aliases (service API)."""

from __future__ import annotations

import pytest

from jobqueue import services
from jobqueue.errors import JobExists, JobInvalid, JobNotFound
from jobqueue.models import Job

pytestmark = pytest.mark.django_db

DUMMY = "core4.queue.helper.job.example.DummyJob"
SLEEP = "tests.jobqueue.jobs.SleepJob"


def test_defaults_and_split_of_settings_and_args(events):
    job = services.enqueue(SLEEP, sleep=3, priority=5, attempts=2, color="red")
    assert job.args == {"sleep": 3, "color": "red"}
    assert (job.priority, job.attempts, job.attempts_left) == (5, 2, 2)
    assert (job.defer_time, job.defer_max, job.error_time) == (300, 3600, 600)
    assert (job.zombie_time, job.max_parallel, job.progress_interval) == (1800, 15, 5)
    assert job.wall_time is None and job.worker is None and job.force is False
    assert job.state == "pending" and job.trial == 0 and len(job.id) == 24
    assert events.of(job.id) == [("enqueue_job", {"pending": 1})]


def test_class_attributes_are_defaults():
    job = services.enqueue("tests.jobqueue.jobs.FailingJob")
    assert (job.attempts, job.error_time) == (2, 1)


def test_alias_keeps_the_enqueued_name():
    job = services.enqueue(DUMMY, sleep=10)
    assert job.name == DUMMY
    assert Job.objects.get(pk=job.id).args == {"sleep": 10}


def test_explicit_args_dict_equals_keywords():
    services.enqueue(SLEEP, args={"a": 1, "b": 2})
    with pytest.raises(JobExists) as exc:
        services.enqueue(SLEEP, b=2, a=1)
    assert str(exc.value) == f"job [{SLEEP}] exists with args {{'b': 2, 'a': 1}}"


def test_unique_unfinished_name_and_args():
    first = services.enqueue(SLEEP)
    with pytest.raises(JobExists, match=r"exists with args \{\}"):
        services.enqueue(SLEEP)
    services.enqueue(SLEEP, sleep=1)
    services.enqueue(SLEEP, sleep="1")  # "1" is not 1
    services.remove(first.id)
    again = services.enqueue(SLEEP)
    assert again.id != first.id
    assert Job.objects.filter(name=SLEEP, args={}).count() == 2


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("DummyJob", JobNotFound, r"job \[DummyJob\] not found"),
        ("nosuchmodule.Job", JobNotFound, "not found"),
        ("123 nosuch.job", JobNotFound, "not found"),
        ("tests.jobqueue.jobs.Missing", JobNotFound, "not found"),
        ("tests.jobqueue.jobs.not_a_class", JobNotFound, "not found"),
        ("tests.jobqueue.jobs.NotAJob", JobNotFound, "not found"),
        ("jobqueue.job.CoreJob", JobNotFound, "not found"),
        ("tests.jobqueue.jobs.InheritedAuthorJob", JobInvalid, "missing author"),
        ("tests.jobqueue.jobs.BadSettingJob", JobInvalid, r"\[attempts\] > 0 expected"),
        ("", JobNotFound, "qualified name"),
    ],
)
def test_refused_classes(name, error, message):
    with pytest.raises(error, match=message):
        services.enqueue(name)
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempts": 0}, r"\[attempts\] > 0 expected"),
        ({"attempts": "3"}, r"\[attempts\] expected int"),
        ({"defer_time": 1.5}, r"\[defer_time\] expected int"),
        ({"priority": "high"}, r"\[priority\] expected int"),
        ({"priority": True}, r"\[priority\] expected int"),
        ({"force": "yes"}, r"\[force\] expected bool"),
        ({"wall_time": -1}, r"\[wall_time\] > 0 expected"),
        ({"worker": ""}, r"\[worker\] expected str or None"),
        ({"max_parallel": None}, r"\[max_parallel\] expected int"),
        ({"args": [1]}, r"\[args\] expected a dict"),
        ({"when": float("nan")}, "JSON"),
        ({"obj": object()}, "JSON"),
    ],
)
def test_invalid_settings_and_args(kwargs, message):
    with pytest.raises(JobInvalid, match=message):
        services.enqueue(SLEEP, **kwargs)
    assert not Job.objects.exists()


def test_optional_settings_accept_none():
    job = services.enqueue(SLEEP, wall_time=None, worker=None, force=True, priority=-3)
    assert job.force is True and job.priority == -3


def test_author_is_the_acting_user_or_the_os_user(events):
    import getpass

    mine = services.enqueue(SLEEP, by="alice")
    theirs = services.enqueue(SLEEP, sleep=1)
    assert mine.enqueued_by == "alice"
    assert [e[3] for e in events.events] == ["alice", getpass.getuser()]
    assert theirs.enqueued["by"] == getpass.getuser()
