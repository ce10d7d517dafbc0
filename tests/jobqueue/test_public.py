"""The public Python API: ``from jobqueue import enqueue, get, kill, remove, restart``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import jobqueue
from jobqueue import enqueue, enqueue_job, get, kill, remove, restart, transitions
from jobqueue.errors import JobExists, JobInvalid, JobNotFound, JobStateError
from jobqueue.job import CoreJob
from jobqueue.models import Job
from tests.jobqueue.jobs import FailingJob, SleepJob
from tests.support import ROOT

pytestmark = pytest.mark.django_db

SLEEP = "tests.jobqueue.jobs.SleepJob"


class NotRegisteredJob(CoreJob):
    """Defined in a test module, which the registry does not scan."""

    author = "test"


def test_enqueue_a_class_or_its_name_returns_the_id():
    by_class = enqueue(SleepJob, sleep=1, priority=5)
    by_name = enqueue(SLEEP, sleep=2, by="alice")
    assert isinstance(by_class, str) and isinstance(by_name, str)
    job = get(by_class)
    assert job.name == SLEEP and job.args == {"sleep": 1} and job.priority == 5
    assert get(by_name).enqueued_by == "alice"
    assert enqueue("core4.queue.helper.job.example.DummyJob") != by_class  # an alias
    assert enqueue_job(SleepJob, args={"job": "x"}).args == {"job": "x"}


def test_enqueue_errors():
    enqueue(SleepJob, sleep=1)
    with pytest.raises(JobExists, match=r"job \[tests.jobqueue.jobs.SleepJob\] exists"):
        enqueue(SleepJob, sleep=1)
    with pytest.raises(JobNotFound, match="is not registered"):
        enqueue(NotRegisteredJob)
    with pytest.raises(JobNotFound, match=r"job \[no.such.Job\] not found"):
        enqueue("no.such.Job")
    with pytest.raises(JobNotFound):
        enqueue(42)  # type: ignore[arg-type]
    with pytest.raises(JobInvalid, match=r"\[priority\] expected int"):
        enqueue(SleepJob, priority="high")
    with pytest.raises(JobNotFound):
        get("nope")


def test_kill_remove_restart():
    running = enqueue(SleepJob, sleep=30)
    transitions.pick("w")
    assert kill(running).killed_at is not None
    pending = enqueue(SleepJob, sleep=2)
    assert remove(pending).journaled
    with pytest.raises(JobNotFound, match="finished"):
        restart(pending)
    failing = enqueue(FailingJob, attempts=1)
    transitions.pick("w")
    transitions.fail(failing, "w", {"exception": "ValueError()", "traceback": None})
    assert get(failing).state == "error"
    child = restart(failing, by="bob")
    assert child != failing and get(child).parent_id == failing
    assert Job.objects.get(pk=child).enqueued_by == "bob"
    with pytest.raises(JobStateError):
        restart(child)  # pending: nothing to restart


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        jobqueue.nothing  # noqa: B018


def test_importing_the_package_loads_no_models():
    """``jobqueue`` is in INSTALLED_APPS: importing it must not need the apps to be ready."""
    code = "import sys, jobqueue; print('jobqueue.models' in sys.modules, 'django_tasks' in sys.modules)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert out.split() == ["False", "False"]
