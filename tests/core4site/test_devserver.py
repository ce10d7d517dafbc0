"""``manage.py runserver`` is daphne's (HTTP and the event socket), and daphne's server —
Twisted, autobahn, pyOpenSSL — is loaded by no other process: not the worker, whose forked
job processes would pay for its memory on every fork, nor any other command. Nor is the
REST framework's request machinery (serializers, responses, exceptions), which only the
API's views need."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import requests
from websocket import create_connection

from tests.support import ROOT, free_port, wait_for

#: what a worker and its job processes do not load (the ``rest_framework`` app's own
#: ``apps`` and ``checks`` modules are light and load with ``INSTALLED_APPS``)
SERVER_PACKAGES = ("twisted", "autobahn", "OpenSSL", "daphne.server", "rest_framework.")
LIGHT = ("rest_framework.apps", "rest_framework.checks")


def test_a_worker_loads_neither_the_server_nor_the_rest_framework():
    code = (
        "import django, sys; django.setup()\n"
        "from django.core.management import load_command_class\n"
        "for name in ('worker', 'enqueue', 'coco'):\n"
        "    load_command_class('jobqueue', name)\n"
        "from jobqueue import forkserver, runner, worker\n"
        "forkserver.preload()  # what a fork server holds before it forks job processes\n"
        f"print([m for m in sys.modules if m.startswith({SERVER_PACKAGES!r}) "
        f"and m not in {LIGHT!r}])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "core4site.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_runserver_serves_the_api_and_the_event_socket(live_stack):
    port = free_port()
    process = live_stack.spawn("runserver", "runserver", f"127.0.0.1:{port}", "--noreload")
    base = f"http://127.0.0.1:{port}"

    def answers():
        if process.poll() is not None:
            raise AssertionError(live_stack.log("runserver"))
        try:
            return requests.get(base + "/health/live", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(answers, 60, message="runserver did not answer")
    live_stack.base_url = base
    token = live_stack.login()
    ws = create_connection(f"ws://127.0.0.1:{port}/core4/api/v1/event?token={token}", timeout=30)
    try:
        ws.send(json.dumps({"type": "interest", "data": ["queue"]}))
        reply = json.loads(ws.recv())
    finally:
        ws.close()
    assert reply["type"] == "interest", reply
    assert "Starting ASGI/Daphne" in live_stack.log("runserver")
