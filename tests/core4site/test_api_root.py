"""``GET /core4/api/v1/``: the API's front page lists every endpoint and links the reference."""

from __future__ import annotations

import pytest

from tests.support import API

pytestmark = pytest.mark.django_db


def test_api_root_lists_the_endpoints_and_links_the_reference(client):
    response = client.get(API + "/")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 200 and body["message"] == "OK"
    data = body["data"]
    assert data["login"] == API + "/login"
    assert data["reference"] == {
        "schema": API + "/schema/",
        "swagger": API + "/schema/swagger/",
        "redoc": API + "/schema/redoc/",
    }
    for link in data["reference"].values():
        assert client.get(link).status_code == 200, link

    by_path = {item["path"]: item for item in data["endpoints"]}
    assert by_path[API + "/job"]["methods"] == ["GET", "POST"]
    assert by_path[API + "/job/{id}"]["summary"]
    assert by_path[API + "/event"]["methods"] == ["WEBSOCKET"]
    assert by_path[API + "/"]["tag"] == "core4"
    for wanted in ("/login", "/roles", "/system", "/jobs/history", "/queue/history"):
        assert API + wanted in by_path, wanted

    # every documented path is listed, and nothing else but the socket
    schema = client.get(API + "/schema/", {"format": "json"}).json()
    assert set(by_path) - {API + "/event"} == set(schema["paths"])
    assert set(schema["paths"][API + "/"]) == {"get"}


def test_api_root_is_public_but_a_bad_token_sent_is_a_401(client):
    assert client.get(API + "/").status_code == 200
    # a credential that is sent is checked, as everywhere: a bad one is a 401
    response = client.get(API + "/", HTTP_AUTHORIZATION="Bearer nonsense")
    assert response.status_code == 401
