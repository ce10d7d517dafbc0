"""Browser fixtures: headless Chromium (Debian's package) driven by Playwright.

Without chromium the browser tests fail with a clear message on CI (``CI=true``) and are
skipped, with the reason, on a developer's machine.
"""

from __future__ import annotations

import os

import pytest
import requests

from tests.dashboard.browser import chromium_missing, launch, login
from tests.support import ADMIN_PASSWORD, SEED_USER

DUMMY = "jobqueue.jobs.example.DummyJob"
TEST_USER = SEED_USER


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def playwright_expect():
    """Playwright's ``expect``, for a browser test module to take at import: without
    Playwright the module fails to import on CI and is skipped elsewhere (the browser fixture
    says the same for every test; this is for collection)."""
    try:
        from playwright.sync_api import expect
    except ImportError:
        if on_ci():
            raise
        pytest.skip("playwright is not installed (requirements-dev.txt)", allow_module_level=True)
    return expect


@pytest.fixture(scope="session")
def browser():
    missing = chromium_missing()
    if missing:
        if on_ci():
            pytest.fail(f"dashboard browser tests cannot run: {missing}", pytrace=False)
        pytest.skip(f"dashboard browser tests need a browser: {missing}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Pages in fresh browser contexts (own cookies), with errors of the page collected."""
    contexts = []

    def make(viewport=None, **options):
        """``options`` go to the browser context: ``timezone_id``, ``locale``, ``color_scheme``…"""
        context = browser.new_context(
            viewport=viewport or {"width": 1440, "height": 900}, **options
        )
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()


class Site:
    """A running product (daphne + worker) and an admin's API access to it."""

    def __init__(self, stack):
        self.stack = stack
        self.base = stack.start_daphne()
        # long test jobs need not get the default 30 s grace at teardown
        self.worker = stack.spawn(
            "worker-1", "worker", "worker-1", "--concurrency", "3", env={"CORE4_WORKER_GRACE": "1"}
        )
        self.token = stack.login()

    def api(self, method: str, path: str, **kwargs):
        response = requests.request(
            method,
            f"{self.base}/core4/api/v1/{path}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=15,
            **kwargs,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def enqueue_cli(self, *args: str) -> str:
        """``manage.py enqueue`` as an operator types it; the new job's id."""
        return self.stack.manage("enqueue", *args).stdout.strip().splitlines()[-1]

    def enqueue_api(self, **args) -> str:
        return self.api("POST", "job", json={"qual_name": DUMMY, "args": args})["data"]

    def job(self, job_id: str) -> dict:
        return self.api("GET", f"job/{job_id}")["data"]

    def queue_event_ids(self) -> list[str]:
        ids, page = [], 0
        while True:
            reply = self.api(
                "GET",
                "event/history",
                params={"filter": '{"channel": "queue"}', "per_page": 1000, "page": page},
            )
            ids += [event["_id"] for event in reply["data"]]
            page += 1
            if page >= reply["page_count"]:
                return ids

    def create_test_user(self) -> None:
        self.api("POST", "roles", json=TEST_USER)

    def login(self, page, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
        login(page, self.base, username, password)


@pytest.fixture
def site(live_stack):
    return Site(live_stack)
