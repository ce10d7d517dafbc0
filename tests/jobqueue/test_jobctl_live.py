"""Issue #12 items 5-7 end to end: a real worker process (with its fork server), daphne and
the CLI — a job over its timeout is killed and retried after its backoff, a result travels
from the job process to ``GET /job/<id>`` and ``coco --detail``."""

from __future__ import annotations

import json

import pytest
import requests

from tests.jobqueue.stackdb import as_time, enqueue, job, wait_state
from tests.support import wait_for

pytestmark = pytest.mark.e2e

FAST = {
    "CORE4_WORKER_TIMEOUT": "5",
    "CORE4_WORKER_GRACE": "1",
    "CORE4_SUMMARY_INTERVAL": "0.5",
    "CORE4_WORKER_DAILY_COMMANDS": "nosuchcommand",
    "CORE4_RESULT_MAX": "200",
}


def test_timeout_backoff_and_result_through_a_worker(live_stack):
    stack = live_stack
    stack.env.update(FAST)
    base = stack.start_daphne()
    token = stack.login()
    timed = enqueue(
        stack, "tests.jobqueue.jobs.SleepJob", "sleep=30", "timeout=1", "attempts=2",
        'error_time={"base": 2, "factor": 3, "max": 60}',
    )  # fmt: skip
    value = {"rows": [1, 2, 3], "label": "<script>x</script>"}
    result = enqueue(stack, "tests.jobqueue.jobs.ResultJob", "value=" + json.dumps(value))
    big = enqueue(stack, "tests.jobqueue.jobs.ResultJob", "size=500")
    stack.start_worker("worker-1", "--concurrency", "3")

    failed = wait_state(stack, timed, "failed", timeout=60)
    error = failed["last_error"]
    error = json.loads(error) if isinstance(error, str) else error
    assert error["exception"] == "timeout after 1 s"
    # the first failure waits base seconds (no jitter): exactly, from the transition's clock
    delay = as_time(failed["query_at"]) - as_time(failed["finished_at"])
    assert delay.total_seconds() == 2
    final = wait_state(stack, timed, "error", timeout=60)
    assert final["trial"] == 2 and final["attempts_left"] == 0
    assert as_time(final["started_at"]) >= as_time(failed["query_at"])  # not before it was due

    wait_for(lambda: job(stack, result)["journaled"], 60, 0.1, "result job did not complete")
    headers = {"Authorization": "Bearer " + token}
    data = requests.get(f"{base}/core4/api/v1/job/{result}", headers=headers, timeout=10).json()
    assert data["data"]["state"] == "complete" and data["data"]["result"] == value
    detail = stack.manage("coco", "--detail", result).stdout
    shown = json.loads(detail.split("-" * 20 + " STDOUT ")[0])
    assert shown["result"] == value and "returning a result" in detail

    refused = wait_state(stack, big, "error", timeout=60)
    assert "exceeds CORE4_RESULT_MAX (200 bytes)" in refused["stdout"]
    listing = stack.manage("coco", "--detail", big).stdout
    assert '"result": null' in listing and "ResultError" in listing
