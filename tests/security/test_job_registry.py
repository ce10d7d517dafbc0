"""Issue: one request killed the server by naming a module (``venv.__main__.X``) as a job.

Every name from outside is resolved against the job registry; nothing is imported because a
client, an operator's command line or a stored job named it. Each attack below names a module
that leaves a marker file when imported: on the old code (``importlib.import_module(name)``)
the marker appears.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured

from jobqueue import services, transitions
from jobqueue.errors import JobNotFound
from jobqueue.job import DEFAULTS
from jobqueue.models import Job
from jobqueue.registry import JobRegistry, registry
from tests.jobqueue.api.conftest import ECHO, make_user
from tests.jobqueue.conftest import fast, run_worker  # noqa: F401 - fixtures
from tests.support import ROOT, Api, error_of

pytestmark = pytest.mark.django_db

JOB_API = "api://core4.api.v1.request.job.JobRequest"


@pytest.fixture
def booby_trap(tmp_path, monkeypatch):
    """A module on ``sys.path`` that writes ``marker`` when imported; ``(name, marker)``."""
    name = f"trap_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            Path({str(marker)!r}).write_text("imported")
            from jobqueue.job import CoreJob

            class X(CoreJob):
                author = "attacker"

                def execute(self, **kwargs):
                    Path({str(marker)!r}).write_text("executed")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield f"{name}.X", marker
    sys.modules.pop(name, None)


def test_rest_enqueue_of_an_unregistered_module_imports_nothing(client, booby_trap):
    name, marker = booby_trap
    user = make_user("mallory", [JOB_API, "job://.*/x"])
    from accounts.tokens import issue_token

    api = Api(client, str(issue_token(user)))
    for qual_name in (name, "venv.__main__.X", "this.X", "antigravity.X"):
        response = api.post("/job", {"qual_name": qual_name})
        assert response.status_code == 404, response.content
        assert error_of(response) == f"job [{qual_name}] not found"
    assert not marker.exists()
    assert "this" not in sys.modules or "this" in _preloaded
    assert not Job.objects.exists()


_preloaded = set(sys.modules)


def test_service_and_aliases_resolve_only_registered_names(booby_trap, settings):
    name, marker = booby_trap
    settings.CORE4_JOB_ALIASES = {"core4.Foreign": name, "core4.Echo": ECHO}
    with pytest.raises(JobNotFound, match="not found"):
        services.enqueue(name)
    with pytest.raises(JobNotFound, match=r"job \[core4.Foreign\] not found"):
        services.enqueue("core4.Foreign")
    assert services.enqueue("core4.Echo").name == "core4.Echo"  # a registered target runs
    assert not marker.exists()


def test_cli_enqueue_imports_nothing(booby_trap):
    name, marker = booby_trap
    env = {**os.environ, "PYTHONPATH": str(marker.parent), "CORE4_VAR_DIR": str(marker.parent)}
    result = subprocess.run(
        [sys.executable, "manage.py", "enqueue", name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert f"job [{name}] not found" in result.stderr
    assert not marker.exists()


def test_worker_never_imports_a_stored_unregistered_name(booby_trap, run_worker):  # noqa: F811
    """A job row whose name is not registered (written by an older release, or by hand) is
    settled as an error by the job process; the module it names is never imported."""
    name, marker = booby_trap
    job = transitions.enqueue(name, dict(DEFAULTS), {}, by="tester")
    run_worker(until=lambda: Job.objects.get(pk=job.pk).state == "error", timeout=30)
    job.refresh_from_db()
    assert "not found" in job.last_error["exception"]
    assert not marker.exists()


def test_a_configured_package_that_does_not_exist_is_a_settings_error():
    with pytest.raises(ImproperlyConfigured, match="nosuch_jobs_package"):
        JobRegistry(("nosuch_jobs_package",)).discover()


def test_test_jobs_are_registered_by_the_test_settings_only():
    from core4site import settings as product

    assert not any(package.startswith("tests") for package in product.CORE4_JOB_PACKAGES)
    assert "tests.jobqueue.jobs.SleepJob" in registry()
    assert "jobqueue.jobs.example.DummyJob" in registry()
    assert "jobqueue.job.CoreJob" not in registry()


def test_invalid_classes_are_registered_with_their_reason():
    entry = registry().entries["tests.jobqueue.api.jobs.NoAuthorJob"]
    assert not entry.valid and "missing author" in (entry.error or "")
