"""A django.tasks task end to end: enqueued from a Django process, run by ``manage.py worker``
in a job process of its own, seen in coco, the job API and the event history by its name."""

from __future__ import annotations

import pytest
import requests

from tests.jobqueue.stackdb import job, rows, wait_state

pytestmark = pytest.mark.e2e

GREET = "jobqueue.jobs.example.greet"


def shell(stack, code: str) -> str:
    return stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1]


def test_a_task_runs_as_a_job_like_any_other(live_stack):
    stack = live_stack
    stack.start_daphne()
    job_id = shell(
        stack, "from jobqueue.jobs.example import greet; print(greet.enqueue('live').id)"
    )
    assert job(stack, job_id)["name"] == GREET
    stack.start_worker("worker-1")
    done = wait_state(stack, job_id, "complete", "error")
    assert done["state"] == "complete" and "greeting live" in done["stdout"]

    status = shell(stack, f"from jobqueue.jobs.example import greet; print(greet.get_result('{job_id}').status)")  # fmt: skip
    assert status == "SUCCESSFUL"
    detail = stack.manage("coco", "--detail", job_id).stdout
    assert GREET in detail and '"state": "complete"' in detail

    headers = {"Authorization": "Bearer " + stack.login()}
    api = stack.base_url + "/core4/api/v1"
    data = requests.get(f"{api}/job/{job_id}", headers=headers, timeout=30).json()["data"]
    assert data["qual_name"] == GREET and data["args"]["args"] == ["live"]
    # the stored events of the job (the history and the live stream are made of them)
    events = rows(stack, "SELECT name, data FROM events_event ORDER BY id")
    mine = [e["name"] for e in events if job_id in str(e["data"])]
    assert mine == ["enqueue_job", "request_start_job", "start_job", "complete_job"]
