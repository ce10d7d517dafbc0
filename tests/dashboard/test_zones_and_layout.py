"""The dashboard's times in the browser's zone, its phone layout and its dark mode, in a real
browser (Playwright's ``timezone_id``, ``locale``, ``viewport`` and ``color_scheme``) against a
real product (daphne + worker).

The API writes UTC without a zone suffix, as core4 does; the page reads such times as UTC and
shows them in the browser's zone with the browser's formatters (``Intl``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.dashboard.conftest import DUMMY, playwright_expect
from tests.support import wait_for

expect = playwright_expect()

pytestmark = pytest.mark.e2e

LONG = 30_000  # ms: upper bound for a job to start or be killed

ZONES = [
    # zone, the browser's language, how it says "just now" / "n seconds ago"
    pytest.param(
        "Europe/Berlin", "de-DE", re.compile(r"^(jetzt|vor \d+ Sekunden?)$"), id="berlin-de"
    ),
    pytest.param(
        "America/Los_Angeles", "en-US", re.compile(r"^(now|\d+ seconds? ago)$"), id="la-en"
    ),
]
CLOCK = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})(?:\s*([AP]M))?$")


def clock(text: str) -> tuple[int, int, int]:
    """A shown clock time (``07:40:25``, ``06:40:25 AM``) as 24-hour (h, m, s)."""
    match = CLOCK.match(text.replace("\u202f", " ").strip())
    assert match, f"not a clock time: {text!r}"
    hour, minute, second, half = match.groups()
    hour = int(hour) % 12 + (12 if half == "PM" else 0) if half else int(hour)
    return hour, int(minute), int(second)


def wall(api_time: str, zone: str) -> tuple[int, int, int]:
    """The wall-clock time in ``zone`` of an API time (UTC without a zone suffix)."""
    assert not re.search(r"(Z|[+-]\d\d:?\d\d)$", api_time), api_time  # core4's format
    local = datetime.fromisoformat(api_time).replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    return local.hour, local.minute, local.second


def field(page, label: str):
    return (
        page.locator("#view-job .field")
        .filter(has=page.locator(".field-label", has_text=re.compile(f"^{label}$")))
        .locator(".field-value")
    )


def queue_event(site, job_id: str, name: str) -> dict:
    reply = site.api(
        "GET", "event/history", params={"filter": '{"channel": "queue"}', "per_page": 1000}
    )
    return next(e for e in reply["data"] if e["name"] == name and e["data"].get("_id") == job_id)


@pytest.mark.parametrize(("zone", "locale", "just_now"), ZONES)
def test_times_are_shown_in_the_browsers_zone(site, new_page, zone, locale, just_now):
    page = new_page(timezone_id=zone, locale=locale)
    site.login(page)
    assert page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone") == zone

    job_id = site.enqueue_cli(DUMMY, "sleep=600", "loop_time=0.5")
    wait_for(lambda: site.job(job_id)["state"] == "running", LONG / 1000, message="not running")

    # the stream: the zone's wall time of the event (today: no date), UTC in the tooltip
    event = queue_event(site, job_id, "enqueue_job")
    shown = page.locator(
        f'#panel-stream tr[data-job-id="{job_id}"][data-event-name="enqueue_job"] td.time time'
    )
    expect(shown).to_have_count(1, timeout=LONG)
    assert clock(shown.inner_text()) == wall(event["created"], zone)
    utc = datetime.fromisoformat(event["created"])
    assert f"{utc:%Y-%m-%d %H:%M:%S} UTC" in shown.get_attribute("title")

    # the chart's legend shows the current values without hovering, its time in the same format
    def legend():
        return page.evaluate("() => window.__dashboard.app.history.legend()")

    wait_for(lambda: legend().get("Running") == "1", LONG / 1000, message=f"legend {legend()}")
    values = legend()
    assert "--" not in values.values(), values
    now = datetime.now(ZoneInfo(zone))
    h, m, s = clock(values["time"])
    shown_now = now.replace(hour=h, minute=m, second=s)
    assert abs((shown_now - now).total_seconds()) < 120, (values["time"], now)
    # a fresh install: the x-range starts near the first point, not an hour ago
    low, high = page.evaluate(
        "() => { const u = window.__dashboard.app.history.chart; return [u.scales.x.min, u.scales.x.max]; }"
    )
    assert high - low < 1800, (low, high)

    # the jobs list: enqueued a moment ago (not "1 hour ago")
    page.click("#nav-jobs")
    row = page.locator(f'#jobs-table tr[data-job-id="{job_id}"]')
    expect(row).to_have_attribute("data-state", "running", timeout=LONG)
    expect(row.locator("td.enqueued time")).to_have_text(just_now)

    # the detail: start time in the zone, a runtime that counts while it runs, settings in words
    row.locator("a").first.click()
    expect(page.locator("#view-job")).to_have_attribute("data-state", "running")
    job = site.job(job_id)
    assert clock(field(page, "Started").inner_text()) == wall(job["started_at"], zone)
    runtime = field(page, "Runtime")
    expect(runtime).to_have_text(re.compile(r"^\d+(\.\d)? s$|^\d+ min \d+ s$"))
    first = runtime.inner_text()
    expect(runtime).not_to_have_text(first, timeout=5_000)  # counts on
    expect(field(page, "Wall time")).to_have_text("no limit")
    expect(field(page, "Zombie time")).to_have_text("1800 s (30 min)")
    assert "– s" not in page.locator("#view-job .detail-grid").inner_text()

    # killed: the progress is where the job stopped, not a live bar; the runtime stops
    page.click('#view-job [data-action="kill"]')
    page.click("#confirm [data-confirm=ok]")
    expect(page.locator("#view-job")).to_have_attribute("data-state", "killed", timeout=LONG)
    expect(field(page, "Progress").locator(".progress")).to_have_class(
        re.compile("progress-stopped")
    )
    expect(field(page, "Progress")).to_have_text(re.compile(r"^(stopped at \d+ %|–)$"))
    assert field(page, "Runtime").locator("[data-running-since]").count() == 0
    page.goto(site.base + "/#/jobs")
    killed_row = page.locator(f'#jobs-table tr[data-job-id="{job_id}"]')
    if killed_row.count():  # listed where the jobs view shows finished jobs too
        expect(killed_row.locator(".progress")).to_have_class(re.compile("progress-stopped"))

    # workers: alive just now (not "1 hour ago")
    page.goto(site.base + "/#/workers")
    worker = page.locator('#workers-table tr[data-worker="worker-1"]')
    expect(worker.locator("td.heartbeat time")).to_have_text(just_now, timeout=LONG)
    assert page.errors == []


def in_view(page, selector: str) -> None:
    """Every element of ``selector`` is shown whole, inside the viewport's width (retried a
    little: a live view may re-render between two looks)."""
    width = page.viewport_size["width"]

    def boxes():
        items = page.locator(selector)
        found = [items.nth(n).bounding_box() for n in range(items.count())]
        return found if found and all(found) else None

    found = wait_for(boxes, 10, message=f"{selector} not shown")
    for n, box in enumerate(found):
        assert box["width"] > 0, (selector, n)
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (selector, n, box, width)


def no_sideways_scroll(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), (
        "the page scrolls sideways"
    )


def luminance(css_color: str) -> float:
    r, g, b = (int(x) for x in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.mark.parametrize(
    ("width", "scheme"), [(360, "light"), (390, "dark")], ids=["360-light", "390-dark"]
)
def test_phone_width_and_colour_scheme(site, new_page, width, scheme):
    job_id = site.enqueue_cli(DUMMY, "sleep=600", "loop_time=0.5")
    wait_for(lambda: site.job(job_id)["state"] == "running", LONG / 1000, message="not running")
    page = new_page(viewport={"width": width, "height": 800}, color_scheme=scheme)
    site.login(page)

    # the colour scheme follows the browser's preference
    colours = page.evaluate(
        """() => { const css = (el) => getComputedStyle(el);
          const panel = document.querySelector('.panel');
          return { bg: css(document.documentElement).backgroundColor, text: css(document.body).color,
                   panel: css(panel).backgroundColor }; }"""
    )
    if scheme == "dark":
        assert luminance(colours["bg"]) < 0.15 and luminance(colours["panel"]) < 0.2, colours
        assert luminance(colours["text"]) > 0.75, colours
    else:
        assert luminance(colours["bg"]) > 0.85 and luminance(colours["text"]) < 0.25, colours

    # overview: navigation and "Log out" fit; nothing makes the page scroll sideways
    expect(page.locator(f'#panel-board tr[data-name="{DUMMY}"]')).to_be_visible(timeout=LONG)
    in_view(page, ".tabs a")
    in_view(page, "#logout")
    in_view(page, "#state-cards .card")
    no_sideways_scroll(page)

    # jobs: a job name is not broken letter by letter
    page.click("#nav-jobs")
    row = page.locator(f'#jobs-table tr[data-job-id="{job_id}"]')
    expect(row).to_be_visible(timeout=LONG)
    name = row.locator("td.name")
    assert name.bounding_box()["width"] >= 120, name.bounding_box()
    line = float(name.evaluate("(el) => parseFloat(getComputedStyle(el).lineHeight) || 20"))
    assert name.bounding_box()["height"] <= 3 * line + 20, name.bounding_box()
    in_view(page, "#logout")
    no_sideways_scroll(page)

    # the detail and the workers
    row.locator("a").first.click()
    expect(page.locator("#view-job")).to_have_attribute("data-state", "running")
    in_view(page, "#view-job .detail-actions [data-action]")
    no_sideways_scroll(page)
    page.goto(site.base + "/#/workers")
    expect(page.locator('#workers-table tr[data-worker="worker-1"]')).to_be_visible(timeout=LONG)
    in_view(page, ".tabs a")
    no_sideways_scroll(page)
    assert page.errors == []


def test_time_parsing_and_formatting_in_the_page(site, new_page):
    """``time.js`` itself: zone-less API times are UTC, zoned ones are read as they say, the
    date is added when not today, relative times in both directions."""
    page = new_page(timezone_id="Europe/Berlin", locale="en-GB")
    site.login(page)
    result = page.evaluate(
        """async () => {
          const t = await import('/static/dashboard/time.js');
          const now = Date.now();
          const iso = (ms) => new Date(ms).toISOString().replace('Z', '');
          return {
            naive: t.parseTime('2026-11-30T06:40:25.047696').toISOString(),
            zulu: t.parseTime('2026-11-30T06:40:25Z').toISOString(),
            offset: t.parseTime('2026-11-30T06:40:25+00:00').toISOString(),
            none: t.parseTime(null), bad: t.parseTime('soon'),
            clock: t.fmtTime('2025-03-01T06:40:25'),
            ago: t.fmtAgo(iso(now - 8000)), hour: t.fmtAgo(iso(now - 3700 * 1000)),
            skew: t.fmtAgo(iso(now + 3000)), future: t.fmtRelative(iso(now + 185 * 1000)),
            today: t.fmtTime(iso(now)),
            title: t.utcTitle('2026-11-30T06:40:25.047696'),
            runtime: t.jobRuntime({ state: 'running', runtime: 10, started_at: iso(now - 5000) }),
            finished: t.jobRuntime({ state: 'killed', runtime: 12.5, started_at: iso(now - 5000) }),
            wall: t.fmtSeconds(null, 'no limit'), zombie: t.fmtSeconds(1800),
          };
        }"""
    )
    assert result["naive"] == "2026-11-30T06:40:25.047Z"
    assert result["zulu"] == result["offset"] == "2026-11-30T06:40:25.000Z"
    assert result["none"] is None and result["bad"] is None
    assert result["clock"] == "1 Mar 2025, 07:40:25"  # not today: the date; Berlin is UTC+1
    assert result["ago"] == "8 seconds ago"
    assert result["hour"] == "1 hour ago"
    assert result["skew"] == "now"
    assert result["future"] == "in 3 minutes"
    assert re.fullmatch(r"\d\d:\d\d:\d\d", result["today"])  # today: the clock only
    assert "07:40:25" in result["title"] and "2026-11-30 06:40:25 UTC" in result["title"]
    assert 14.9 <= result["runtime"] <= 20 and result["finished"] == 12.5
    assert result["wall"] == "no limit" and result["zombie"] == "1800 s (30 min)"
