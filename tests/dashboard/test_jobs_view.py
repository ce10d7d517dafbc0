"""The jobs view in a real browser: finished jobs, next run times, and one action on many
selected jobs with one confirmation and a result per job."""

from __future__ import annotations

import re

import pytest

from tests.dashboard.conftest import DUMMY, playwright_expect
from tests.support import wait_for

expect = playwright_expect()

pytestmark = pytest.mark.e2e

LONG = 30_000  # ms: upper bound for a job to start, finish or be killed
ERROR_JOB = "jobqueue.jobs.example.ErrorJob"


def row(page, job_id: str):
    return page.locator(f'#jobs-table tr[data-job-id="{job_id}"]')


def result(page, job_id: str):
    return page.locator(f'#jobs-bulk-results li[data-job-id="{job_id}"]')


def test_select_several_jobs_and_act_on_them_with_results_per_job(site, new_page):
    running = [site.enqueue_api(sleep=600, n=n) for n in range(2)]
    failed = site.api(
        "POST", "job", json={"qual_name": ERROR_JOB, "args": {"n": 1}, "error_time": 600}
    )["data"]
    for job_id in running:
        wait_for(lambda j=job_id: site.job(j)["state"] == "running", LONG / 1000)
    wait_for(lambda: site.job(failed)["state"] == "failed", LONG / 1000, message="not failed")

    page = new_page()
    site.login(page)
    page.goto(site.base + "/#/jobs")
    # the failed job waits for its retry: when is shown, and restart says "retry now"
    failed_row = row(page, failed)
    expect(failed_row).to_have_attribute("data-state", "failed", timeout=LONG)
    expect(failed_row.locator("td.when")).to_have_text(re.compile(r"^in \d"))  # ~10 min
    expect(failed_row.locator('[data-action="restart"]')).to_have_text("Retry now")
    failed_row.locator("a").click()
    expect(page.locator("#view-job .detail-grid")).to_contain_text(re.compile(r"Next run\s*in \d"))
    expect(page.locator('#view-job [data-action="restart"]')).to_have_text("Retry now")
    page.click("#view-job .back")

    # kill three selected jobs at once: one confirmation, a result per job
    for job_id in [*running, failed]:
        row(page, job_id).locator("td.select input").check()
    expect(page.locator("#jobs-bulk-count")).to_have_text("3 jobs selected")
    page.click('#jobs-bulk [data-bulk="kill"]')
    expect(page.locator("#confirm h3")).to_have_text("Kill 3 jobs")
    page.click("#confirm [data-confirm=ok]")
    results = page.locator("#jobs-bulk-results")
    expect(results).to_contain_text("Kill: 2 of 3 done, 1 failed")
    for job_id in running:
        expect(result(page, job_id)).to_have_attribute("data-ok", "true")
    expect(result(page, failed)).to_have_attribute("data-ok", "false")
    expect(result(page, failed)).to_contain_text("not running")
    for job_id in running:
        wait_for(lambda j=job_id: site.job(j)["state"] == "killed", LONG / 1000)
    expect(page.locator("#jobs-bulk")).to_be_hidden()  # the selection is spent

    # retry the failed job now and restart the killed ones, selected as the whole page
    page.select_option("#jobs-filter-state", "killed")
    expect(page.locator("#jobs-table tbody tr[data-job-id]")).to_have_count(2, timeout=LONG)
    page.check("#jobs-select-page")
    expect(page.locator("#jobs-bulk-count")).to_have_text("2 jobs selected")
    page.select_option("#jobs-filter-state", "")  # a new filter drops the selection
    expect(page.locator("#jobs-bulk")).to_be_hidden()
    expect(row(page, failed)).to_be_visible()
    for job_id in [*running, failed]:
        row(page, job_id).locator("td.select input").check()
    page.click('#jobs-bulk [data-bulk="restart"]')
    page.click("#confirm [data-confirm=ok]")
    expect(results).to_contain_text("Restart: 3 of 3 done")
    expect(result(page, failed)).to_contain_text("done")  # the same job, now
    for job_id in running:
        expect(result(page, job_id)).to_contain_text("restarted as")
    children = [site.job(job_id)["enqueued"]["child_id"] for job_id in running]
    assert all(children)

    # the finished jobs: the restarted ones are there, searchable by id, sortable
    page.click('#jobs-scope [data-scope="journal"]')
    expect(page.locator("#jobs-title")).to_have_text("Finished jobs")
    for job_id in running:
        expect(row(page, job_id)).to_be_visible(timeout=LONG)
        expect(row(page, job_id).locator("td.select input")).to_be_disabled()
    page.fill("#jobs-filter-name", running[0][-10:])
    expect(page.locator("#jobs-table tbody tr[data-job-id]")).to_have_count(1)
    page.fill("#jobs-filter-name", "")
    page.click('#jobs-table th[data-sort="ended_at"]')
    expect(page.locator('#jobs-table th[data-sort="ended_at"]')).to_have_attribute(
        "aria-sort", "ascending"
    )

    # clean up: remove every unfinished job on the page
    page.click('#jobs-scope [data-scope="queue"]')
    expect(page.locator("#jobs-title")).to_have_text("Jobs in the queue")
    expect(row(page, children[0])).to_be_visible(timeout=LONG)
    page.check("#jobs-select-page")
    expect(page.locator("#jobs-bulk-count")).to_have_text(re.compile(r"^\d+ jobs selected"))
    page.click('#jobs-bulk [data-bulk="remove"]')
    page.click("#confirm [data-confirm=ok]")
    expect(results).to_contain_text(re.compile(r"Remove: (\d+) of \1 done"))
    for job_id in [*children, failed]:  # running ones leave the queue when they stop
        assert site.job(job_id)["flag"]["removed"]
    assert page.errors == []


def test_select_all_matching_jobs_beyond_the_page(site, new_page):
    site.api("PUT", "system/pause")
    try:
        ids = [site.enqueue_api(sleep=0, n=n) for n in range(30)]
        page = new_page()
        site.login(page)
        page.goto(site.base + "/#/jobs")
        page.fill("#jobs-filter-name", DUMMY)
        expect(page.locator("#view-jobs")).to_have_attribute("data-total", "30", timeout=LONG)
        page.check("#jobs-select-page")
        expect(page.locator("#jobs-bulk-count")).to_have_text("25 jobs selected")
        page.click("#jobs-select-matching")
        expect(page.locator("#jobs-bulk-count")).to_have_text("30 jobs selected")
        page.click('#jobs-bulk [data-bulk="remove"]')
        expect(page.locator("#confirm h3")).to_have_text("Remove 30 jobs")
        page.click("#confirm [data-confirm=ok]")
        expect(page.locator("#jobs-bulk-results")).to_contain_text("Remove: 30 of 30 done")
        wait_for(lambda: all(site.job(j)["journal"] for j in ids), LONG / 1000)
        expect(page.locator("#view-jobs")).to_have_attribute("data-total", "0", timeout=LONG)
        assert page.errors == []
    finally:
        site.api("PUT", "system/resume")
