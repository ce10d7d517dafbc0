"""Lone surrogates (valid JSON, not encodable) and deep input: 400 in the envelope, never 500.

``"\\ud800"`` is valid JSON but no valid Unicode text: it can be neither stored nor encoded as
UTF-8, so every place that echoes, stores or hashes it used to crash — three of them before
any login (issue 10, item 5).
"""

from __future__ import annotations

import json

import pytest

from tests.support import API, Api, error_of

SURROGATE = "\ud800"

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, django_user_model):
    from accounts.models import User

    user = User(name="admin", email="admin@example.com", perm=["cop"])
    user.set_password("hans")
    user.save()
    return Api(client).login()


def _post_json(client, path, body, token=None):
    headers = {"HTTP_AUTHORIZATION": "Bearer " + token} if token else {}
    return client.post(
        f"{API}/{path}", json.dumps(body), content_type="application/json", **headers
    )


def _assert_400(response):
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert error_of(response)


# --- without login ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        {"username": SURROGATE, "password": "x"},
        {"username": "admin", "password": SURROGATE},
        {"username": "admin", "password": "hans", "extra": SURROGATE},
        {"token": SURROGATE},
        {"token": "a" + SURROGATE + ".b.c"},
    ],
)
@pytest.mark.parametrize("path", ["login", "profile", "job"])
def test_surrogate_without_login(client, db, path, body):
    _assert_400(_post_json(client, path, body))


def test_surrogate_on_legacy_login(client, db):
    response = client.post(
        "/core4/api/login",
        json.dumps({"username": SURROGATE, "password": "x"}),
        content_type="application/json",
    )
    _assert_400(response)


# --- logged in ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "roles", {"name": SURROGATE}),
        ("post", "roles", {"name": "ok" + SURROGATE, "perm": [SURROGATE]}),
        ("put", "profile", {"realname": SURROGATE}),
        ("put", "profile", {"email": SURROGATE + "@example.com"}),
        ("post", "job", {"name": SURROGATE}),
        (
            "post",
            "job",
            {"name": "core4.queue.helper.job.example.DummyJob", "args": {"a": SURROGATE}},
        ),
        ("post", "jobs/history", {"filter": {"name": SURROGATE}}),
        ("post", "event/history", {"filter": json.dumps({"author": SURROGATE})}),
        ("post", "jobs/history", {"sort": SURROGATE}),
        ("post", "queue/history", {"startDate": SURROGATE}),
        ("post", "event/history", {"page": SURROGATE}),
        ("post", "job", {"filter": {"name": SURROGATE}}),
    ],
)
def test_surrogate_when_logged_in(api, method, path, body):
    response = getattr(api, method)("/" + path, body)
    _assert_400(response)


def test_surrogate_in_a_query_string_json_argument(api):
    response = api.get("/job", {"args": json.dumps({"a": SURROGATE})})
    assert response.status_code < 500, response.content[:300]


def test_the_error_renderer_never_crashes_on_a_surrogate():
    from core4api.renderers import dumps, envelope

    body = dumps(envelope(400, error=f"bad [{SURROGATE}]"))
    assert json.loads(body)["error"] == f"bad [{SURROGATE}]"
    body.decode("utf-8")  # valid UTF-8 on the wire


# --- deep input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [100, 2_000, 100_000])
@pytest.mark.parametrize("path", ["login", "roles", "job"])
def test_deep_json_bodies(api, client, path, depth):
    raw = '{"username": "admin", "password": "hans", "name": ' + "[" * depth + "]" * depth + "}"
    headers = {} if path == "login" else {"HTTP_AUTHORIZATION": "Bearer " + api.token}
    response = client.post(f"{API}/{path}", raw, content_type="application/json", **headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert error_of(response)


@pytest.mark.parametrize("depth", [100, 2_000])
def test_deep_json_in_the_query_string(api, depth):
    response = api.get("/job", {"args": "[" * depth + "]" * depth})
    assert response.status_code < 500, response.content[:300]
