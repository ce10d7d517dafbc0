"""Property-based run of schemathesis against the OpenAPI schema, in-process (WSGI).

Every operation of the schema gets generated requests — valid ones, and in a second run
invalid ones — as the administrator; no reply may be a 500, and every reply must match its
documented status codes, content types and body schema. The number of examples per operation
is kept small enough for the suite (``SCHEMATHESIS_EXAMPLES`` raises it for a deeper run).
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tokens import issue_token
from tests.jobqueue.api.conftest import ECHO, enqueue

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _schema(mode: str):
    """The schema as the project serves it, bound to the project's WSGI application.

    (Generated in-process at collection time: ``schemathesis.pytest.from_fixture`` does not
    work with pytest 9.)
    """
    generated = SchemaGenerator().get_schema(request=None, public=True)
    document = json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))
    config = schemathesis.Config.from_dict(
        {"generation": {"mode": mode, "max-examples": EXAMPLES, "database": "none"}}
    )
    schema = schemathesis.openapi.from_dict(document, config=config)
    schema.app = WSGIHandler()
    return schema


@pytest.fixture
def auth(make_user, settings):
    """An administrator's credentials and a few jobs; streams are cut short."""
    settings.CORE4_JOB_FOLLOW_MAX = 0.2
    settings.CORE4_JOB_FOLLOW_POLL = 0.02
    admin = make_user("fuzz_admin", ["cop"])
    enqueue(ECHO, args={"n": 1})
    enqueue(ECHO, args={"n": 2}, priority=3)
    # as Django's test client does: requests must not close the test's transaction
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield {"Authorization": "Bearer " + str(issue_token(admin))}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


positive = _schema("positive")
negative = _schema("negative")
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def shadowed(case) -> bool:
    """A request that another operation of the schema owns.

    OpenAPI matches concrete paths before templated ones, so ``GET /job/queue`` is the
    listing, not the detail of a job with id ``queue`` (``/roles/distinct`` likewise);
    schemathesis does not know that rule and would validate the listing against the detail.
    """
    actual = case.formatted_path.split("/")

    def literals(path):
        return sum(1 for part in path.split("/") if not part.startswith("{"))

    for other in case.operation.schema.raw_schema["paths"]:
        parts = other.split("/")
        if other == case.path or len(parts) != len(actual):
            continue
        matches = all(p.startswith("{") or p == a for p, a in zip(parts, actual, strict=True))
        if matches and literals(other) > literals(case.path):
            return True
    return False


@positive.parametrize()
@SETTINGS
def test_valid_requests(case, auth):
    if not shadowed(case):
        case.call_and_validate(headers=auth, checks=CHECKS)


@negative.parametrize()
@SETTINGS
def test_invalid_requests(case, auth):
    if not shadowed(case):
        case.call_and_validate(headers=auth, checks=CHECKS)


def test_shadowed_paths_are_recognised():
    """The exclusion above skips exactly the requests another operation owns."""

    class Case:
        def __init__(self, template, path):
            self.path, self.formatted_path = template, path
            self.operation = type("Op", (), {"schema": positive})

    assert shadowed(Case("/core4/api/v1/job/{id}", "/core4/api/v1/job/queue"))
    assert shadowed(Case("/core4/api/v1/roles/{id}", "/core4/api/v1/roles/distinct"))
    assert not shadowed(Case("/core4/api/v1/job/{id}", "/core4/api/v1/job/6b0b146e2e30bb12"))
    assert not shadowed(Case("/core4/api/v1/job/{action}/{id}", "/core4/api/v1/job/kill/1"))
