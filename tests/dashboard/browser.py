"""Headless Chromium for the dashboard's browser tests and ``scripts/screenshots.py``.

The Debian package ``chromium`` (``/usr/bin/chromium``; ``.ci/run`` installs it) driven by
Playwright's Python API — Playwright's own browser download cannot be used here.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = os.environ.get("CORE4_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_missing() -> str | None:
    """Why no browser test can run here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (requirements-dev.txt)"
    if not Path(CHROMIUM).is_file() or not os.access(CHROMIUM, os.X_OK):
        return f"no chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    return None


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def login(page, base_url: str, username: str, password: str, timeout: float = 30_000) -> None:
    """Sign in through the dashboard's login page, as a user does."""
    page.goto(base_url + "/")
    page.wait_for_url("**/login**", timeout=timeout)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + "/", timeout=timeout)
    page.wait_for_selector(
        "#conn-status[data-state=open], #conn-status[data-state=denied]", timeout=timeout
    )
