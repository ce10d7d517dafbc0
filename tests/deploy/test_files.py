"""The deployment files agree with each other and with the product (no processes started)."""

from __future__ import annotations

import configparser
import shlex

from django.conf import settings
from django.core.management import get_commands
from honcho.environ import parse_procfile

from tests.support import ROOT

SYSTEMD = ROOT / "deploy" / "systemd"
NGINX_SITE = (ROOT / "deploy" / "nginx" / "core4site.conf").read_text()
DAPHNE_FLAGS = ["--proxy-headers", "--proxy-headers-host", "X-Real-IP"]


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign] - systemd keys are case-sensitive
    parser.read_string((SYSTEMD / name).read_text())
    assert set(parser.sections()) == {"Unit", "Service", "Install"}
    return parser


def seconds(value: str) -> float:
    return float(value.removesuffix("s"))


def test_worker_unit_stops_gracefully():
    service = unit("core4site-worker@.service")["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[-3:] == ["manage.py", "worker", "%i"]
    assert "worker" in get_commands()
    # SIGTERM to the worker alone; systemd's SIGKILL only after the worker's grace period
    assert service["KillMode"] == "mixed"
    assert seconds(service["TimeoutStopSec"]) > settings.CORE4_WORKER_GRACE


def test_server_unit_and_procfile_run_daphne_as_nginx_expects():
    service = unit("core4site-server@.service")["Service"]
    server = shlex.split(service["ExecStart"])
    web = shlex.split(parse_procfile((ROOT / "Procfile").read_text()).processes["web"])
    for command, port in ((server, "%i"), (web, "$PORT")):
        assert command[0].endswith("daphne") and command[-1] == "core4site.asgi:application"
        assert command[command.index("-p") + 1] == port
        assert command[command.index("-b") + 1] == "127.0.0.1"
        start = command.index(DAPHNE_FLAGS[0])
        assert command[start : start + 3] == DAPHNE_FLAGS
    # the header daphne takes the client address from is the one nginx always overwrites
    assert NGINX_SITE.count("proxy_set_header X-Real-IP $remote_addr;") == NGINX_SITE.count(
        "proxy_pass http://core4site_daphne;"
    )


def test_procfile_and_units_share_the_environment_file_and_checkout():
    processes = parse_procfile((ROOT / "Procfile").read_text()).processes
    assert set(processes) == {"web", "worker", "scheduler"}
    assert "$HONCHO_PROCESS_NAME" in processes["worker"]  # a unique identifier per worker
    for name in ("core4site-server@.service", "core4site-worker@.service",
                 "core4site-scheduler.service"):  # fmt: skip
        service = unit(name)["Service"]
        assert service["EnvironmentFile"] == "/etc/core4site/env"
        assert service["WorkingDirectory"] == "/srv/core4site"
        assert shlex.split(service["ExecStart"])[0].startswith("/srv/core4site/.venv/bin/")
    assert "alias /srv/core4site/var/static/;" in NGINX_SITE
    assert settings.STATIC_URL.strip("/") == "static"
