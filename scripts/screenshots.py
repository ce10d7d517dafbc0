"""Screenshots of the dashboard's main views into ``screenshots/*.png`` (README, "Dashboard").

    .venv/bin/python scripts/screenshots.py            # starts its own stack (fresh database)
    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:5001 --password hans

Without ``--url`` it runs the product the way the tests do (``tests/support.py``'s
``LiveStack``: migrate, daphne, a worker) on a fresh database, fills the queue with a few
example jobs (running, pending, deferred, failing, killed) and a user ``test`` that may only
read the queue history, and photographs the views as ``admin`` and as ``test`` — on a desktop,
at phone width (390 px) and in dark mode (``prefers-color-scheme: dark``). Needs the
Debian package ``chromium`` and Playwright (requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core4site.settings")

import requests  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.dashboard.browser import chromium_missing, launch, login  # noqa: E402
from tests.support import SEED_USER  # noqa: E402

DUMMY = "jobqueue.jobs.example.DummyJob"
VIEWPORT = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
TEST_USER = SEED_USER


def workload(stack) -> dict[str, str]:
    """Jobs in every interesting state, enqueued in waves so that the history has a shape;
    returns the ids of a long running job and of a failing one."""
    enqueue = lambda *args: stack.manage("enqueue", *args).stdout.strip().splitlines()[-1]  # noqa: E731
    for wave in range(3):
        for sleep in (2, 4, 6):
            enqueue(DUMMY, f"sleep={sleep + wave}", f"wave={wave}")
        time.sleep(6)
    ids = {"long": enqueue(DUMMY, "sleep=600", "loop_time=0.5")}
    enqueue(DUMMY, "sleep=400", "loop_time=1")
    ids["error"] = enqueue("jobqueue.jobs.example.ErrorJob")
    enqueue("jobqueue.jobs.example.DeferJob")
    doomed = enqueue(DUMMY, "sleep=300", "note=to-be-killed")
    time.sleep(4)
    stack.manage("coco", "--kill", doomed)
    for n in range(4):
        enqueue(DUMMY, f"sleep={20 + n}", "priority=-1")
    return ids


def shoot(page, out: Path, name: str) -> None:
    page.wait_for_timeout(600)  # let transitions and the chart settle
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def photograph(base_url: str, password: str, out: Path, ids: dict[str, str]) -> None:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        admin = browser.new_page(viewport=VIEWPORT)
        admin.goto(base_url + "/login")
        shoot(admin, out, "login")
        login(admin, base_url, "admin", password)
        admin.click("#panel-history [data-range=live]")
        admin.wait_for_selector("#panel-board tbody tr")
        admin.wait_for_timeout(2500)
        shoot(admin, out, "overview")
        admin.click("#nav-jobs")
        admin.wait_for_selector("#jobs-table tbody tr[data-job-id]")
        admin.click("#enqueue-panel summary")
        shoot(admin, out, "jobs")
        # several jobs selected for one action, then the finished jobs
        admin.click("#enqueue-panel summary")
        boxes = admin.locator("#jobs-table tbody td.select input:not([disabled])")
        for n in range(min(3, boxes.count())):
            boxes.nth(n).check()
        shoot(admin, out, "jobs-selected")
        admin.click("#jobs-bulk-clear")
        admin.click('#jobs-scope [data-scope="journal"]')
        admin.wait_for_selector('[data-scope="journal"] #jobs-table tbody tr[data-job-id]')
        shoot(admin, out, "jobs-finished")
        admin.click('#jobs-scope [data-scope="queue"]')
        if ids.get("error"):
            admin.goto(f"{base_url}/#/job/{ids['error']}")
            admin.wait_for_selector("#view-job .traceback", timeout=60_000)
            shoot(admin, out, "job-detail")
        admin.goto(base_url + "/#/workers")
        admin.wait_for_selector("#workers-table tbody tr[data-worker]")
        shoot(admin, out, "workers")
        phone = browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True
        ).new_page()
        login(phone, base_url, "admin", password)
        phone.wait_for_selector("#panel-board tbody tr")
        phone.wait_for_timeout(1500)
        shoot(phone, out, "overview-phone")
        phone.click("#nav-jobs")
        phone.wait_for_selector("#jobs-table tbody tr[data-job-id]")
        shoot(phone, out, "jobs-phone")
        dark = browser.new_context(viewport=VIEWPORT, color_scheme="dark").new_page()
        login(dark, base_url, "admin", password)
        dark.click("#panel-history [data-range=live]")
        dark.wait_for_selector("#panel-board tbody tr")
        dark.wait_for_timeout(2500)
        shoot(dark, out, "overview-dark")
        if ids.get("long"):
            dark.goto(f"{base_url}/#/job/{ids['long']}")
            dark.wait_for_selector("#view-job[data-state=running]", timeout=60_000)
            shoot(dark, out, "job-detail-dark")
        dark_phone = browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, color_scheme="dark"
        ).new_page()
        login(dark_phone, base_url, "admin", password)
        dark_phone.goto(base_url + "/#/workers")
        dark_phone.wait_for_selector("#workers-table tbody tr[data-worker]")
        shoot(dark_phone, out, "workers-phone-dark")
        user = browser.new_context(viewport=VIEWPORT).new_page()
        try:
            login(user, base_url, "test", TEST_USER["password"])
        except Exception as exc:  # noqa: BLE001 - a running stack may have no such user
            print(f"skipped the masked view: cannot sign in as test ({exc})")
        else:
            user.click("#panel-history [data-range=live]")
            user.wait_for_selector("#panel-board tbody tr")
            user.wait_for_timeout(1500)
            shoot(user, out, "overview-masked")
            user.goto(base_url + "/#/jobs")
            user.wait_for_selector("#panel-jobs .denied")
            shoot(user, out, "jobs-not-allowed")
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="use a running server instead of starting a stack")
    parser.add_argument("--password", default="hans", help="admin's password (with --url)")
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    args = parser.parse_args()
    missing = chromium_missing()
    if missing:
        print(f"cannot take screenshots: {missing}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.url:
        photograph(args.url.rstrip("/"), args.password, out, {})
        return 0

    import django

    django.setup()
    from tests.support import ADMIN_PASSWORD, LiveStack

    with tempfile.TemporaryDirectory(prefix="core4shots-") as tmp:
        stack = LiveStack(Path(tmp))
        try:
            base = stack.start_daphne()
            stack.spawn(
                "worker-1",
                "worker",
                "worker-1",
                "--concurrency",
                "3",
                env={"CORE4_WORKER_GRACE": "1"},
            )
            token = stack.login()
            reply = requests.post(
                base + "/core4/api/v1/roles",
                json=TEST_USER,
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            reply.raise_for_status()
            ids = workload(stack)
            photograph(base, ADMIN_PASSWORD, out, ids)
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
