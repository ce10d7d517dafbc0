"""Bad input anywhere gets a 4xx in core4's envelope, never a 500."""

import json

import pytest

from tests.accounts.conftest import API, error_of


@pytest.mark.parametrize(
    "body",
    [
        {"name": ["a"]},
        {"name": {"a": 1}},
        {"name": None},
        {"name": "ok", "perm": {"a": 1}},
        {"name": "ok", "perm": [["nested"]]},
        {"name": "ok", "role": {"a": 1}},
        {"name": "ok", "role": [1, 2]},
        {"name": "ok", "is_active": 5},
        {"name": "ok", "email": 5, "password": "x"},
        {"name": "ok", "email": "a@b.cd", "password": 5},
        {"name": "ok", "email": "a@b.cd", "password": "x" * 10000},
        {"name": "ok", "realname": ["x"]},
        {"name": "n\x00ul"},
        {"name": "ok", "perm": ["api://" + "a" * 100000]},
        {"name": "ok", "perm": ["app://x"] * 1000},
        {"name": "ok", "email": "a" * 300 + "@example.com"},
    ],
)
def test_wrong_types_and_sizes_on_create(api, body):
    response = api.post("/roles", body)
    assert 400 <= response.status_code < 500, response.content
    assert error_of(response)


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("application/json", "{not json"),
        ("application/json", "[1, 2]"),
        ("application/json", '"text"'),
        ("application/json", b"\xff\xfe"),
    ],
)
def test_bad_json_bodies(api, client, content_type, raw):
    response = client.post(
        f"{API}/roles", raw, content_type=content_type, HTTP_AUTHORIZATION="Bearer " + api.token
    )
    assert response.status_code == 400
    assert "JSON" in error_of(response)


def test_non_json_body_without_content_type_is_ignored_as_in_core4(api, client):
    response = client.post(
        f"{API}/roles", "name=x", content_type="", HTTP_AUTHORIZATION="Bearer " + api.token
    )
    assert response.status_code == 400
    assert "Missing argument name" in error_of(response)


def test_huge_body_is_refused(api, client):
    raw = json.dumps({"name": "x", "realname": "y" * (3 * 1024 * 1024)})
    response = client.post(
        f"{API}/roles",
        raw,
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer " + api.token,
    )
    assert response.status_code == 400
    assert "too large" in error_of(response)


def test_unknown_path_and_method(api, client):
    response = client.get(f"{API}/does/not/exist")
    assert response.status_code == 404 and response.json()["message"] == "Not Found"
    response = api.delete("/login")
    assert response.status_code == 405
    assert response.json()["message"] == "Method Not Allowed"


@pytest.mark.parametrize(
    "params",
    [
        {"page": "abc"},
        {"per_page": "-1"},
        {"per_page": "100000"},
        {"page": "1e400"},
        {"sort": "x" * 10000},
        {"filter": "{" + '"a":' * 5000},
        {"filter": json.dumps({"$and": [{"$or": [{"$and": []}]}] * 3})[:-1]},
    ],
)
def test_bad_paging_arguments(api, params):
    response = api.get("/roles", params)
    assert response.status_code == 400, response.content
    assert error_of(response)


def test_deeply_nested_filter(api):
    flt = {"name": "x"}
    for _ in range(40):
        flt = {"$and": [flt]}
    response = api.get("/roles", {"filter": json.dumps(flt)})
    assert response.status_code == 400
    assert "nested too deeply" in error_of(response)


def test_pathologically_nested_json(api, client):
    deep = "[" * 100000 + "]" * 100000
    response = client.post(
        f"{API}/roles",
        '{"name": "x", "perm": ' + deep + "}",
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer " + api.token,
    )
    assert response.status_code == 400
    assert api.get("/roles", {"filter": '{"a": ' + deep + "}"}).status_code == 400
    assert api.post("/roles", {"name": "x", "perm": deep}).status_code == 400


def test_json_body_sent_as_form_is_read_as_json(api, client):
    """`curl -d '{…}'` sends JSON as application/x-www-form-urlencoded; core4 reads it as JSON."""
    response = client.post(
        f"{API}/roles",
        '{"name": "curly", "perm": ["app://x"]}',
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION="Bearer " + api.token,
    )
    assert response.status_code == 200, response.content
    assert response.json()["data"]["name"] == "curly"


@pytest.mark.parametrize(
    "flt",
    [
        '{"created": 5}',
        '{"created": "yesterday"}',
        '{"created": {"$gt": "x"}}',
        '{"is_active": "abc"}',
        '{"updated": 1e400}',
    ],
)
def test_filter_values_the_field_refuses(api, flt):
    response = api.get("/roles", {"filter": flt})
    assert response.status_code == 400, response.content
    assert "invalid filter value" in error_of(response)
