"""The dashboard in a real browser against a real product (daphne + worker processes).

Every wait is a generous upper bound (Playwright's ``expect`` polls until it holds); nothing
passes or fails on speed.
"""

from __future__ import annotations

import re

import pytest
import requests

from tests.dashboard.conftest import DUMMY, TEST_USER, playwright_expect
from tests.support import wait_for

expect = playwright_expect()

pytestmark = pytest.mark.e2e

LONG = 30_000  # ms: upper bound for a job to start, finish or be killed


def stream_row(page, job_id: str, event: str):
    return page.locator(f'#panel-stream tr[data-job-id="{job_id}"][data-event-name="{event}"]')


def page_event_ids(page) -> list[str]:
    return page.evaluate("() => window.__dashboard.app.stream.events.map((e) => e._id)")


def test_login_page_guards_the_dashboard_and_logout_clears_the_cookie(site, new_page):
    page = new_page()
    page.goto(site.base + "/#/workers")
    expect(page).to_have_url(re.compile(r"/login\?next="))

    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_have_text(re.compile("Wrong username or password"))

    page.fill("input[name=password]", "hans")
    page.click("button[type=submit]")
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "open")
    expect(page.locator("#view-workers")).to_be_visible()  # back where the user wanted to go
    expect(page.locator("#user-name")).to_contain_text("admin")

    # the token lives only in the HttpOnly cookie, out of reach of the page's scripts
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["token"]["httpOnly"] is True
    script_cookies = page.evaluate(
        "() => document.cookie.split(';').map((c) => c.split('=')[0].trim())"
    )
    assert "token" not in script_cookies
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0

    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login$"))
    assert "token" not in {c["name"] for c in page.context.cookies()}
    page.goto(site.base + "/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    assert page.errors == []


def test_admin_watches_jobs_on_board_stream_and_chart_and_kills_one(site, new_page):
    page = new_page()
    site.login(page)

    # a job enqueued through the CLI appears on the board and in the stream, and completes
    short = site.enqueue_cli(DUMMY, "sleep=3", "loop_time=0.5")
    expect(stream_row(page, short, "enqueue_job")).to_have_count(1, timeout=LONG)
    expect(page.locator(f'#panel-board tr[data-name="{DUMMY}"]').first).to_be_visible(timeout=LONG)
    expect(stream_row(page, short, "start_job")).to_have_count(1, timeout=LONG)
    expect(stream_row(page, short, "complete_job")).to_have_count(1, timeout=LONG)
    # the stream names the job (resolved through the job API) and filters by it
    expect(stream_row(page, short, "complete_job").locator("td.name")).to_have_text(DUMMY)
    page.fill("input[name=event-job]", short[-8:])
    expect(
        page.locator(f'#panel-stream tbody tr[data-event-id]:not([data-job-id="{short}"])')
    ).to_have_count(0)
    expect(page.locator(f'#panel-stream tbody tr[data-job-id="{short}"]')).to_have_count(4)
    page.select_option("select[name=event-name]", "complete_job")
    expect(page.locator("#panel-stream tbody tr[data-event-id]")).to_have_count(1)
    page.fill("input[name=event-job]", "")
    page.select_option("select[name=event-name]", "")
    expect(page.locator("#panel-board .empty")).to_be_visible(timeout=LONG)  # queue empty

    # the history chart has data and draws it
    expect(page.locator("#panel-history")).not_to_have_attribute("data-points", "0")
    expect(page.locator("#panel-history canvas")).to_have_count(1)
    page.click("#panel-history [data-range=day]")
    expect(page.locator("#panel-history [data-range=day]")).to_have_class(re.compile("active"))
    expect(page.locator("#panel-history")).not_to_have_attribute("data-points", "0")

    # kill a long job from its detail page, with a confirmation
    long = site.enqueue_cli(DUMMY, "sleep=600", "loop_time=0.5")
    wait_for(lambda: site.job(long)["state"] == "running", LONG / 1000, message="not running")
    expect(page.locator('#panel-board tr[data-state="running"]')).to_be_visible(timeout=LONG)
    page.click("#nav-jobs")
    row = page.locator(f'#jobs-table tr[data-job-id="{long}"]')
    expect(row).to_have_attribute("data-state", "running", timeout=LONG)
    row.locator("a").click()
    expect(page.locator("#view-job")).to_have_attribute("data-state", "running")
    expect(page.locator("#view-job .detail-grid")).to_contain_text("worker-1")
    page.click('#view-job [data-action="kill"]')
    page.click("#confirm [data-confirm=ok]")
    expect(page.locator("#view-job")).to_have_attribute("data-state", "killed", timeout=LONG)
    assert site.job(long)["state"] == "killed"
    page.click("#view-job .back")
    page.click('.tabs a[data-view="overview"]')
    expect(stream_row(page, long, "kill_job")).to_have_count(1, timeout=LONG)
    expect(page.locator('#panel-board tr[data-state="killed"] .flags')).to_contain_text("killed")
    assert page.errors == []


def test_enqueue_form_runs_a_job_and_shows_errors_in_words(site, new_page):
    page = new_page()
    site.login(page)
    page.goto(site.base + "/#/jobs")
    page.click("#enqueue-panel summary")

    page.fill("#enqueue-form [name=qual_name]", "no.such.Job")
    page.click("#enqueue-form button[type=submit]")
    expect(page.locator("#enqueue-error")).to_contain_text("job [no.such.Job] not found")

    page.fill("#enqueue-form [name=qual_name]", DUMMY)
    page.fill("#enqueue-form [name=args]", "{not json")
    page.click("#enqueue-form button[type=submit]")
    expect(page.locator("#enqueue-error")).to_contain_text("not valid JSON")

    page.fill("#enqueue-form [name=args]", '{"sleep": 1, "note": "<b>from the form</b>"}')
    page.fill("#enqueue-form [name=priority]", "3")
    page.click("#enqueue-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"#/job/[0-9a-f]{24}$"))
    job_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#view-job")).to_have_attribute("data-state", "complete", timeout=LONG)
    # data is shown as text, never as markup; the captured output arrives with the job
    expect(page.locator("#view-job .detail-args")).to_contain_text('"note": "<b>from the form</b>"')
    assert page.locator("#view-job b").count() == 0
    expect(page.locator("#view-job .output")).to_contain_text("done", timeout=LONG)
    job = site.job(job_id)
    assert job["priority"] == 3 and job["args"]["sleep"] == 1

    # a second identical enqueue while the first is unfinished is refused in words
    site.enqueue_cli(DUMMY, "sleep=600", "tag=unique")
    page.goto(site.base + "/#/jobs")
    page.fill("#enqueue-form [name=args]", '{"sleep": 600, "tag": "unique"}')
    page.fill("#enqueue-form [name=priority]", "")
    page.click("#enqueue-form button[type=submit]")
    expect(page.locator("#enqueue-error")).to_contain_text("exists with args")
    assert page.errors == []


def test_history_only_user_sees_the_board_masked_and_no_controls(site, new_page):
    site.create_test_user()
    secret = site.enqueue_cli(DUMMY, "sleep=600", "loop_time=0.5")
    wait_for(lambda: site.job(secret)["state"] == "running", LONG / 1000, message="not running")

    page = new_page()
    site.login(page, TEST_USER["name"], TEST_USER["password"])
    expect(page.locator("#user-name")).to_contain_text("Test User")
    masked = page.locator('#panel-board tr[data-name="UnauthorizedJob"][data-state="running"]')
    expect(masked).to_be_visible(timeout=LONG)
    expect(masked.locator(".num")).to_have_text("1")
    expect(stream_row(page, secret, "start_job")).to_have_count(1, timeout=LONG)
    expect(page.locator("#panel-history")).not_to_have_attribute("data-points", "0")
    # nothing on the page names the job or offers to act on it
    assert "DummyJob" not in page.content()
    assert page.locator("[data-action]").count() == 0
    assert page.locator("#enqueue-panel").is_hidden()

    # the job API is not the user's: a clear note instead of a broken page
    page.click("#nav-jobs")
    expect(page.locator("#panel-jobs .denied")).to_be_visible()
    expect(page.locator("#panel-jobs .denied")).to_contain_text("Not allowed")
    page.goto(f"{site.base}/#/job/{secret}")
    expect(page.locator("#view-job .denied")).to_be_visible()
    expect(page.locator("#view-job .denied")).to_contain_text("Not allowed")

    # workers: alive, what they run — masked
    page.goto(site.base + "/#/workers")
    worker = page.locator('#workers-table tr[data-worker="worker-1"]')
    expect(worker).to_contain_text("UnauthorizedJob", timeout=LONG)
    expect(page.locator("#maintenance")).to_contain_text("Queue active")
    assert page.locator("#maintenance button").count() == 0  # pause/resume: not for this user
    assert worker.locator("[data-worker-action]").count() == 0  # quiet/stop: cop only
    assert "DummyJob" not in page.content()
    assert page.errors == []


def test_admin_pauses_and_resumes_the_queue_from_the_workers_view(site, new_page):
    page = new_page()
    site.login(page)
    page.goto(site.base + "/#/workers")
    expect(page.locator('#workers-table tr[data-worker="worker-1"]')).to_be_visible(timeout=LONG)
    page.click("#maintenance-toggle")
    page.click("#confirm [data-confirm=ok]")
    expect(page.locator("#maintenance")).to_contain_text("Queue paused", timeout=LONG)
    assert site.api("GET", "system")["data"]["maintenance"]["system"] is True
    waiting = site.enqueue_cli(DUMMY, "sleep=0")
    # paused: the worker leaves it pending (checked over a few of its polls)
    for _ in range(3):
        assert site.job(waiting)["state"] == "pending"
        page.wait_for_timeout(300)
    page.click("#maintenance-toggle")
    page.click("#confirm [data-confirm=ok]")
    expect(page.locator("#maintenance")).to_contain_text("Queue active", timeout=LONG)
    wait_for(lambda: site.job(waiting)["journal"], LONG / 1000, message="not run after resume")

    # one project, by name; the server's refusal of a bad name is shown in words
    page.fill("#maintenance-project", "jobqueue")
    page.click("#project-pause")
    page.click("#confirm [data-confirm=ok]")
    expect(page.locator("#maintenance")).to_contain_text("paused projects: jobqueue", timeout=LONG)
    page.fill("#maintenance-project", "not a project")
    page.click("#project-resume")
    page.click("#confirm [data-confirm=ok]")
    expect(page.locator(".toast").last).to_contain_text("first part of a job name")
    page.click("text=Resume jobqueue")
    page.click("#confirm [data-confirm=ok]")
    expect(page.locator("#maintenance")).not_to_contain_text("paused projects", timeout=LONG)
    assert page.errors == []


def test_admin_quiets_resumes_and_stops_a_worker(site, new_page):
    page = new_page()
    site.login(page)
    page.goto(site.base + "/#/workers")
    worker = page.locator('#workers-table tr[data-worker="worker-1"]')
    expect(worker).to_be_visible(timeout=LONG)
    worker.locator("[data-worker-action=quiet]").click()
    expect(page.locator("#confirm")).to_contain_text("stops picking new jobs")
    page.click("#confirm [data-confirm=ok]")
    expect(worker.locator(".worker-mode")).to_have_text("quiet", timeout=LONG)
    waiting = site.enqueue_cli(DUMMY, "sleep=0")
    for _ in range(3):  # quiet: the worker leaves it pending (over a few of its ticks)
        assert site.job(waiting)["state"] == "pending"
        page.wait_for_timeout(400)
    worker.locator("[data-worker-action=resume]").click()
    page.click("#confirm [data-confirm=ok]")
    expect(worker.locator(".worker-mode")).to_have_count(0, timeout=LONG)
    wait_for(lambda: site.job(waiting)["journal"], LONG / 1000, message="not run after resume")

    # stop: confirmed, then the worker leaves (gracefully: it runs nothing)
    worker.locator("[data-worker-action=stop]").click()
    page.click("#confirm button[value=cancel]")
    assert site.worker.poll() is None
    worker.locator("[data-worker-action=stop]").click()
    page.click("#confirm [data-confirm=ok]")
    assert site.worker.wait(LONG / 1000) == 0
    assert "stopping (stop requested by admin)" in site.stack.log("worker-1")
    page.reload()
    expect(page.locator("#workers-table")).to_contain_text("No worker is alive", timeout=LONG)
    assert page.errors == []


def test_user_without_any_dashboard_api_gets_not_allowed_notes(site, new_page):
    site.api(
        "POST",
        "roles",
        json={"name": "bare", "email": "bare@example.com", "password": "bare secret", "perm": []},
    )
    page = new_page()
    site.login(page, "bare", "bare secret")
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "denied")
    for panel in ("#panel-board", "#panel-history"):
        expect(page.locator(f"{panel} .denied")).to_be_visible()
        expect(page.locator(f"{panel} .denied")).to_contain_text("Not allowed")
    page.goto(site.base + "/#/workers")
    expect(page.locator("#view-workers .denied")).to_be_visible()
    expect(page.locator("#view-workers .denied")).to_contain_text("Not allowed")
    # logout works without the logout API (the page's own endpoint clears the cookie)
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login$"))
    assert "token" not in {c["name"] for c in page.context.cookies()}
    assert page.errors == []


def test_dropped_socket_resumes_with_since_and_loses_nothing(site, new_page):
    page = new_page()
    site.login(page)
    first = site.enqueue_api(sleep=0.5, n=0)
    expect(stream_row(page, first, "complete_job")).to_have_count(1, timeout=LONG)

    page.evaluate("() => window.__dashboard.socket.drop(6000)")
    expect(page.locator("#banner")).to_be_visible()
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "closed")
    during = [site.enqueue_api(sleep=0.5, n=n) for n in range(1, 4)]
    wait_for(
        lambda: all(site.job(job_id)["state"] == "complete" for job_id in during),
        LONG / 1000,
        message="jobs did not complete",
    )
    assert page.locator("#banner").is_visible()  # still away: all of it happened meanwhile

    expect(page.locator("#banner")).to_be_hidden(timeout=LONG)
    for job_id in during:
        for event in ("enqueue_job", "start_job", "complete_job"):
            expect(stream_row(page, job_id, event)).to_have_count(1, timeout=LONG)
    # exactly the server's queue events, each once, newest first
    wait_for(lambda: page_event_ids(page) == site.queue_event_ids(), 10, message="ids differ")
    assert page.errors == []


def test_daphne_restart_resumes_the_stream(site, new_page):
    page = new_page()
    site.login(page)
    before = site.enqueue_api(sleep=0.5, n=10)
    expect(stream_row(page, before, "complete_job")).to_have_count(1, timeout=LONG)

    stack = site.stack
    daphne = next(p for name, p in stack.processes if name == "daphne")
    port = site.base.rsplit(":", 1)[1]
    stack.terminate(daphne)
    expect(page.locator("#banner")).to_be_visible(timeout=LONG)
    during = site.enqueue_cli(DUMMY, "sleep=0.5", "n=11")  # the CLI works without a server
    stack.spawn(
        "daphne-2", "-m", "daphne", "-b", "127.0.0.1", "-p", port, "core4site.asgi:application"
    )

    def answers():
        try:
            return requests.get(site.base + "/core4/api/v1/login", timeout=2).status_code
        except requests.ConnectionError:
            return None

    wait_for(answers, 60, message="daphne did not come back")
    expect(page.locator("#banner")).to_be_hidden(timeout=LONG)
    for event in ("enqueue_job", "start_job", "complete_job"):
        expect(stream_row(page, during, event)).to_have_count(1, timeout=LONG)
    wait_for(lambda: page_event_ids(page) == site.queue_event_ids(), 10, message="ids differ")
    assert page.errors == []
