"""The job detail in a real browser: a job's result as text (never markup), folded when big;
the timeout, the backoff spec and why the next run is due (issue #12 items 5-7)."""

from __future__ import annotations

import json
import re

import pytest

from tests.dashboard.conftest import playwright_expect
from tests.support import wait_for

expect = playwright_expect()

pytestmark = pytest.mark.e2e

LONG = 30  # s: upper bound for a job to finish or fail
RESULT = "tests.jobqueue.jobs.ResultJob"
ERROR_JOB = "jobqueue.jobs.example.ErrorJob"


def test_result_timeout_and_backoff_in_the_job_detail(site, new_page):
    value = {"html": "<img src=x onerror=alert(1)>", "n": [1, 2]}
    small = site.api("POST", "job", json={"qual_name": RESULT, "args": {"value": value}})["data"]
    big = site.api("POST", "job", json={"qual_name": RESULT, "args": {"size": 5000}})["data"]
    failed = site.api(
        "POST",
        "job",
        json={
            "qual_name": ERROR_JOB,
            "args": {"n": 7},
            "timeout": 300,
            "error_time": {"base": 600, "factor": 2, "max": 3600, "jitter": 0.1},
        },
    )["data"]
    for job_id in (small, big):
        wait_for(lambda j=job_id: site.job(j)["state"] == "complete", LONG, message="no result")
    wait_for(lambda: site.job(failed)["state"] == "failed", LONG, message="not failed")

    page = new_page()
    site.login(page)
    page.goto(f"{site.base}/#/job/{small}")
    shown = page.locator("#view-job .detail-result pre.result")
    expect(shown).to_be_visible()
    assert json.loads(shown.inner_text()) == value  # the markup is text
    expect(page.locator("#view-job .detail-result img")).to_have_count(0)
    expect(page.locator("#view-job .detail-result details")).to_have_count(0)

    page.goto(f"{site.base}/#/job/{big}")
    fold = page.locator("#view-job .detail-result details.result-fold")
    expect(fold).to_be_visible()
    expect(fold.locator("summary")).to_contain_text("5002 bytes")
    expect(fold.locator("pre.result")).to_be_hidden()
    fold.locator("summary").click()
    expect(fold.locator("pre.result")).to_be_visible()
    assert fold.locator("pre.result").inner_text() == json.dumps("x" * 5000)

    page.goto(f"{site.base}/#/job/{failed}")
    grid = page.locator("#view-job .detail-grid")
    expect(grid).to_contain_text("300 s (5 min)")
    expect(grid).to_contain_text(re.compile(r"backoff: 600 s .*× 2 per failure, at most 3600 s"))
    expect(grid).to_contain_text("± 10 %")
    expect(grid).to_contain_text(re.compile(r"Next run\s*in \d.*retry: attempt 2 of 3"))
    expect(page.locator("#view-job .detail-result")).to_contain_text("none yet")
    assert not page.errors
