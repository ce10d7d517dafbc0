"""The dashboard's "Schedules" view in a real browser against a real product: next runs in
the viewer's zone, create/edit/enable/disable/run now/delete, class schedules read-only, a
user without execute rights sees no buttons, phone width and dark mode."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.dashboard.conftest import DUMMY, playwright_expect
from tests.dashboard.test_zones_and_layout import clock, in_view, luminance, no_sideways_scroll
from tests.support import wait_for

expect = playwright_expect()

pytestmark = pytest.mark.e2e

LONG = 30_000
SCHEDULED = "tests.jobqueue.api.jobs.ScheduledJob"
ZONE = "Asia/Kathmandu"  # UTC+5:45: no whole-hour offset can pass by chance


def schedule(site, **body) -> dict:
    return site.api("POST", "schedule", json=body)["data"]


def class_schedule(site) -> str:
    """The class schedule row, as the scheduler keeps it (a worker of the stack may have
    synced it already: the sync is idempotent)."""
    code = (
        "from jobqueue.models import Schedule; from jobqueue.scheduling import "
        "sync_class_schedules; sync_class_schedules(); "
        f"print(Schedule.objects.get(name={SCHEDULED!r}, source='class').id)"
    )
    return site.stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1]


def row(page, schedule_id: str):
    return page.locator(f'#schedules-table tr[data-schedule-id="{schedule_id}"]')


def test_schedules_view_in_the_viewers_zone(site, new_page):
    daily = schedule(site, name=DUMMY, cron="30 7 * * *", timezone="Europe/Berlin")
    klass = class_schedule(site)
    page = new_page(timezone_id=ZONE, locale="en-GB")
    site.login(page)
    page.click("#nav-schedules")
    first = row(page, daily["_id"])
    expect(first).to_be_visible(timeout=LONG)

    # the next run (UTC in the API) shown in the viewer's zone, exact UTC in the title
    due = datetime.fromisoformat(daily["next_run"]).replace(tzinfo=UTC).astimezone(ZoneInfo(ZONE))
    shown = first.locator("time.next-run")
    assert clock(shown.inner_text().split(", ")[-1]) == (due.hour, due.minute, due.second)
    assert (due.hour, due.minute) != (6, 30)  # Berlin's 07:30 is not Kathmandu's
    assert daily["next_run"].replace("T", " ")[:19] in shown.get_attribute("title")
    expect(first.locator("td.when")).to_contain_text("30 7 * * * (Europe/Berlin)")

    # the class schedule: marked, no toggle, no edit or delete — run now only
    klass_row = row(page, klass)
    expect(klass_row.locator(".pill-class")).to_have_text("class")
    expect(klass_row.locator("input.toggle")).to_be_disabled()
    assert klass_row.locator("[data-action=edit], [data-action=delete]").count() == 0

    # disable: the reason is shown, no next run; enable again
    first.locator("input.toggle").click()
    expect(first).to_have_attribute("data-enabled", "false", timeout=LONG)
    expect(first.locator(".reason")).to_have_text("disabled by admin")
    expect(first.locator("time.next-run")).to_have_count(0)
    first.locator("input.toggle").click()
    expect(first).to_have_attribute("data-enabled", "true", timeout=LONG)

    # run now: the job is enqueued, the outcome shown
    first.locator("[data-action=run]").click()
    page.click("#confirm [data-confirm=ok]")
    expect(first.locator(".outcome")).to_have_text("enqueued", timeout=LONG)
    last_job = site.api("GET", f"schedule/{daily['_id']}")["data"]["last_job_id"]
    assert site.job(last_job)["qual_name"] == DUMMY

    # create through the form: every 3600 s, with arguments
    page.click("#schedule-details summary")
    # the viewer's zone (as the browser names it: ICU says Asia/Katmandu), which the server knows
    browser_zone = page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert page.input_value("#schedule-form [name=timezone]") == browser_zone
    from jobqueue.cron import validate_timezone

    assert validate_timezone(browser_zone) == browser_zone
    page.fill("#schedule-form [name=name]", DUMMY)
    page.fill("#schedule-form [name=args]", '{"sleep": 1}')
    page.select_option("#schedule-form [name=kind]", "interval")
    page.fill("#schedule-form [name=when]", "every hour")
    page.click("#schedule-submit")
    expect(page.locator("#schedule-error")).to_have_text(re.compile("whole number of seconds"))
    page.fill("#schedule-form [name=when]", "3600")
    page.click("#schedule-submit")
    hourly = page.locator("#schedules-table tr", has_text="every 3600 s")
    expect(hourly).to_be_visible(timeout=LONG)
    expect(hourly.locator(".args")).to_have_text('{"sleep":1}')

    # a bad cron expression: the server's words under the form
    page.click("#schedule-details summary")
    page.fill("#schedule-form [name=name]", DUMMY)
    page.select_option("#schedule-form [name=kind]", "cron")
    page.fill("#schedule-form [name=when]", "every day")
    page.click("#schedule-submit")
    expect(page.locator("#schedule-error")).to_contain_text("invalid cron expression")

    # edit: the form is filled with the schedule, saved with its etag
    first.locator("[data-action=edit]").click()
    assert page.input_value("#schedule-form [name=when]") == "30 7 * * *"
    page.fill("#schedule-form [name=when]", "45 8 * * 1-5")
    page.click("#schedule-submit")
    expect(first.locator("td.when")).to_contain_text("45 8 * * 1-5", timeout=LONG)

    # delete
    hourly.locator("[data-action=delete]").click()
    page.click("#confirm [data-confirm=ok]")
    expect(hourly).to_have_count(0, timeout=LONG)
    names = [s["schedule"] for s in site.api("GET", "schedule")["data"]]
    assert "every 3600 s" not in names
    assert page.errors == []


def test_a_reader_sees_schedules_without_buttons(site, new_page):
    daily = schedule(site, name=DUMMY, interval=600)
    reader = {
        "name": "reader", "email": "reader@example.com", "password": "very secret",
        "perm": ["api://core4.api.v1.request.job.JobRequest/r", r"job://jobqueue\.jobs\..*/r",
                 "api://core4.api.v1.request.standard.*"],
    }  # fmt: skip
    site.api("POST", "roles", json=reader)
    page = new_page(timezone_id="America/New_York")
    site.login(page, "reader", "very secret")
    page.goto(site.base + "/#/schedules")
    line = row(page, daily["_id"])
    expect(line).to_be_visible(timeout=LONG)
    assert line.locator("button").count() == 0
    expect(line.locator("input.toggle")).to_be_disabled()
    assert page.locator("#schedule-panel").is_hidden()
    # the API agrees: no run now for a reader
    response = requests.post(
        f"{site.base}/core4/api/v1/schedule/{daily['_id']}/run",
        auth=("reader", "very secret"),
        timeout=15,
    )
    assert response.status_code == 403


@pytest.mark.parametrize(("width", "scheme"), [(360, "dark")], ids=["360-dark"])
def test_schedules_on_a_phone_in_dark_mode(site, new_page, width, scheme):
    schedule(site, name=DUMMY, cron="*/10 * * * *", timezone="America/Los_Angeles",
             args={"sleep": 1, "note": "a rather long argument that has to wrap on a phone"})  # fmt: skip
    class_schedule(site)
    page = new_page(viewport={"width": width, "height": 800}, color_scheme=scheme)
    site.login(page)
    page.goto(site.base + "/#/schedules")
    expect(page.locator("#schedules-table tbody tr")).to_have_count(2, timeout=LONG)
    panel = page.evaluate(
        "() => getComputedStyle(document.querySelector('#panel-schedules')).backgroundColor"
    )
    assert luminance(panel) < 0.2, panel
    wait_for(lambda: page.locator("#schedules-table [data-action=run]").count() == 2, 10)
    in_view(page, "#schedules-table [data-action]")
    in_view(page, "#schedules-table input.toggle")
    in_view(page, ".tabs a")
    no_sideways_scroll(page)
    page.click("#schedule-details summary")
    in_view(page, "#schedule-submit")
    no_sideways_scroll(page)
    assert page.errors == []
