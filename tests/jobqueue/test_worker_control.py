"""One worker asked to stop picking (quiet), to pick again (resume) and to stop gracefully —
through ``services.control_worker``, which the REST API and ``coco`` use — read by a real
worker loop (in this process)."""

from __future__ import annotations

import time

import pytest

from jobqueue import services, transitions
from jobqueue.errors import JobNotFound, JobStateError
from jobqueue.models import Job, WorkerRecord

pytestmark = pytest.mark.django_db(transaction=True)

SLEEP = "tests.jobqueue.jobs.SleepJob"


def test_quiet_resume_and_stop_one_worker(run_worker):
    seen: dict[str, object] = {"stage": 0}

    def until() -> bool:
        now = time.monotonic()
        stage = seen["stage"]
        if stage == 0 and WorkerRecord.objects.alive().filter(pk="test-worker").exists():
            assert services.control_worker("test-worker", "quiet") == (True, "quiet")
            assert services.control_worker("test-worker", "quiet") == (False, "quiet")
            seen.update(stage=1, at=now, job=services.enqueue(SLEEP, sleep=1).id)
        elif stage == 1:
            assert Job.objects.get(pk=seen["job"]).state == "pending"  # quiet: not picked
            if now - seen["at"] > 1.5:
                seen["quiet"] = services.worker_modes()
                assert services.control_worker("test-worker", "resume") == (True, "active")
                seen["stage"] = 2
        elif stage == 2 and Job.objects.get(pk=seen["job"]).state == "running":
            assert services.control_worker("test-worker", "stop", by="ops") == (True, "stopping")
            seen["stage"] = 3
        elif stage == 3 and services.worker_modes():
            seen["stopping"] = services.worker_modes()
            with pytest.raises(JobStateError, match="cannot be undone"):
                services.control_worker("test-worker", "resume")
            seen["stage"] = 4
        return False  # the stop ends the run

    worker = run_worker(until, timeout=30)
    assert seen["quiet"] == {"test-worker": "quiet"}
    assert seen["stopping"] == {"test-worker": "stopping"}
    assert worker.stop_reason == "stop requested by ops"
    job = Job.objects.get(pk=seen["job"])
    assert job.state == "complete"  # it ended within the grace period
    assert services.worker_modes() == {}  # cleared as the worker left
    with pytest.raises(JobNotFound, match="not alive"):
        services.control_worker("test-worker", "quiet")


def test_grace_over_settles_running_job_as_retried(run_worker, fast):
    fast.CORE4_WORKER_GRACE = 0.5
    job = services.enqueue(SLEEP, sleep=60)

    def until() -> bool:
        if Job.objects.get(pk=job.id).pid and not worker_box:
            worker_box.append(True)
            services.control_worker("test-worker", "stop")
        return False

    worker_box: list[bool] = []
    run_worker(until, timeout=30)
    job.refresh_from_db()
    assert job.state == "failed" and job.attempts_left == job.attempts and job.query_at
    assert "grace period of 0.5 s over" in job.last_error["exception"]
    assert transitions.counts() == {"failed": 1}


def test_coco_quiet_resume_and_stop():
    from io import StringIO

    from django.core.management import CommandError, call_command

    WorkerRecord.objects.create(identifier="w-1", hostname="h", pid=1)

    def coco(*args: str) -> str:
        out = StringIO()
        call_command("coco", *args, stdout=out)
        return out.getvalue().strip()

    assert coco("--quiet", "w-1") == "worker [w-1]: quiet"
    assert coco("--quiet", "w-1") == "worker [w-1]: quiet already"
    assert coco("--resume-worker", "w-1") == "worker [w-1]: active"
    assert coco("--stop", "w-1") == "worker [w-1]: stopping"
    with pytest.raises(CommandError, match="cannot be undone"):
        coco("--resume-worker", "w-1")
    with pytest.raises(CommandError, match=r"worker \[nobody\] not found"):
        coco("--stop", "nobody")
