"""Issue 10 item 12: an access log by default, without credentials or tokens in it.

``manage.py up`` sent daphne's access log to /dev/null; daphne run directly wrote
``?username=…&password=…`` and ``?token=…`` into it verbatim.
"""

from __future__ import annotations

import pytest
import requests

from core4site.accesslog import redact
from tests.support import ADMIN_PASSWORD, free_port, wait_for


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/core4/api/v1/profile", "/core4/api/v1/profile"),
        ("/a?x=1", "/a?x=1"),
        ("/login?username=admin&password=hans", "/login?username=admin&password=***"),
        ("/login?passwd=hans&x=1", "/login?passwd=***&x=1"),
        ("/p?token=eyJ.abc.def", "/p?token=***"),
        ("/p?TOKEN=a&Password=b", "/p?TOKEN=***&Password=***"),
        ("/p?pass%77ord=hans", "/p?pass%77ord=***"),  # the name as Django decodes it
        ("/p?token", "/p?token"),  # no value, nothing to hide
        ("/p?a=1&token=x&token=y", "/p?a=1&token=***&token=***"),
        ("/p?access_token=x&refresh=y", "/p?access_token=***&refresh=***"),
    ],
)
def test_redact(path, expected):
    assert redact(path) == expected


def _exercise(base_url: str) -> str:
    login = requests.get(
        base_url + "/core4/api/login",
        params={"username": "admin", "password": ADMIN_PASSWORD},
        timeout=10,
    )
    token = login.json()["data"]["token"]
    assert requests.get(base_url + "/core4/api/v1/profile", params={"token": token}, timeout=10).ok
    return token


def _check(log: str, token: str) -> None:
    assert f"password={ADMIN_PASSWORD}" not in log
    assert token not in log
    assert '/core4/api/login?username=admin&password=***"' in log
    assert '/core4/api/v1/profile?token=***"' in log


def _logged(stack, name: str):
    def seen():
        log = stack.log(name)
        return log if "/core4/api/v1/profile?token=" in log else None

    return seen


@pytest.mark.e2e
def test_daphne_run_directly_redacts(live_stack):
    base_url = live_stack.start_daphne()
    token = _exercise(base_url)
    _check(wait_for(_logged(live_stack, "daphne"), 30, message=live_stack.log("daphne")), token)


@pytest.mark.e2e
def test_up_keeps_an_access_log_and_redacts(live_stack):
    port = free_port()
    live_stack.spawn("up", "up", "--port", str(port), "--workers", "0")
    base_url = f"http://127.0.0.1:{port}"

    def answers():
        try:
            return requests.get(base_url + "/core4/api/v1/login", timeout=2).status_code
        except requests.ConnectionError:
            return None

    wait_for(answers, 60, message=live_stack.log("up"))
    token = _exercise(base_url)
    _check(wait_for(_logged(live_stack, "up"), 30, message=live_stack.log("up")), token)


def test_up_access_log_setting(settings, tmp_path):
    import os

    from core4site.management.commands.up import Command

    def target():
        cmd = Command.daphne_command("127.0.0.1", 5001)
        return cmd[cmd.index("--access-log") + 1]

    assert target() == "-"  # on by default, to up's stdout
    settings.CORE4_ACCESS_LOG = str(tmp_path / "log" / "access.log")
    assert target() == settings.CORE4_ACCESS_LOG and (tmp_path / "log").is_dir()
    settings.CORE4_ACCESS_LOG = "off"
    assert target() == os.devnull
