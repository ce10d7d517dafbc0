"""Login from every credential source, expiry, refresh, logout, deactivation."""

import base64

import pytest
from django.test import Client

from accounts.tokens import issue_token
from tests.accounts.conftest import API, Api, error_of


def _envelope_ok(response):
    body = response.json()
    assert response.status_code == 200, body
    assert body["code"] == 200 and body["message"] == "OK"
    assert {"_id", "timestamp", "data"} <= set(body)
    return body["data"]


@pytest.mark.parametrize("path", ["/core4/api/login", f"{API}/login"])
def test_login_by_query_gives_token_and_header(client, admin, path):
    response = client.get(path, {"username": "admin", "password": "hans"})
    data = _envelope_ok(response)
    assert response["token"] == data["token"]
    assert "token" not in response.cookies  # only a POST login sets the cookie


@pytest.mark.parametrize("path", ["/core4/api/login", f"{API}/login"])
def test_post_login_gives_token_header_and_cookie(client, admin, path):
    response = client.post(
        path, {"username": "admin", "password": "hans"}, content_type="application/json"
    )
    data = _envelope_ok(response)
    assert response["token"] == data["token"]
    cookie = response.cookies["token"]
    assert cookie.value == data["token"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


def test_login_by_post_body_without_content_type(client, admin):
    response = client.post(
        f"{API}/login", '{"username": "admin", "password": "hans"}', content_type=""
    )
    token = _envelope_ok(response)["token"]
    again = client.post(f"{API}/login", {"token": token}, content_type="application/json")
    _envelope_ok(again)


def test_login_is_case_insensitive_on_the_name(client, admin):
    _envelope_ok(client.get(f"{API}/login", {"username": "ADMIN", "password": "hans"}))


def test_every_credential_source_authenticates(client, admin):
    token = Api(client).login().token
    client.cookies.clear()
    basic = base64.b64encode(b"admin:hans").decode()
    sources = [
        {"HTTP_AUTHORIZATION": "Bearer " + token},
        {"HTTP_AUTHORIZATION": "bearer " + token},
        {"HTTP_AUTHORIZATION": "Basic " + basic},
    ]
    for headers in sources:
        assert client.get(f"{API}/profile", **headers).status_code == 200, headers
    assert client.get(f"{API}/profile", {"token": token}).status_code == 200
    assert (
        client.put(
            f"{API}/profile", {"token": token, "etag": "x"}, content_type="application/json"
        ).status_code
        == 400  # authenticated by the body's token; the stale etag is the only problem
    )
    assert (
        client.get(f"{API}/profile", {"username": "admin", "password": "hans"}).status_code == 200
    )
    cookie_client = Client()
    cookie_client.cookies["token"] = token
    assert cookie_client.get(f"{API}/profile").status_code == 200


def test_header_wins_over_later_sources(client, admin):
    # A bad bearer token is a 401 even if a valid password is in the arguments: no fall-through.
    response = client.get(
        f"{API}/profile",
        {"username": "admin", "password": "hans"},
        HTTP_AUTHORIZATION="Bearer not-a-token",
    )
    assert response.status_code == 401
    assert "invalid token" in error_of(response)


def test_unsupported_scheme_is_401(client, admin):
    response = client.get(f"{API}/profile", HTTP_AUTHORIZATION="Digest abc")
    assert response.status_code == 401
    assert "scheme" in error_of(response)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"foo": "bar"},
        {"username": "admin"},
        {"username": "admin", "password": "wrong"},
        {"username": "nobody", "password": "hans"},
        {"password": "hans"},
    ],
)
def test_login_without_valid_credentials_is_401(client, admin, params):
    response = client.get(f"{API}/login", params)
    assert response.status_code == 401
    assert response.json()["message"] == "Unauthorized"
    assert "WWW-Authenticate" in response


def test_protected_resource_without_credentials_is_401_not_redirect(client, admin):
    response = client.get(f"{API}/profile")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")


def test_expired_token_is_401(client, admin, settings):
    settings.CORE4_TOKEN_EXPIRATION = -5
    token = str(issue_token(admin))
    response = client.get(f"{API}/profile", HTTP_AUTHORIZATION="Bearer " + token)
    assert response.status_code == 401
    assert "expired" in error_of(response)


def test_fresh_token_gets_no_refresh_header(client, admin):
    token = Api(client).login().token
    client.cookies.clear()
    response = client.get(f"{API}/profile", HTTP_AUTHORIZATION="Bearer " + token)
    assert response.status_code == 200
    assert "token" not in response


def test_token_older_than_refresh_interval_gets_a_new_one(client, admin, settings):
    token = Api(client).login().token
    client.cookies.clear()
    settings.CORE4_TOKEN_REFRESH = -1  # every token is "old"
    response = client.get(f"{API}/profile", HTTP_AUTHORIZATION="Bearer " + token)
    assert response.status_code == 200
    fresh = response["token"]
    assert fresh and fresh != token
    assert "token" not in response.cookies  # the cookie is renewed for cookie requests only
    settings.CORE4_TOKEN_REFRESH = 3600
    assert client.get(f"{API}/profile", HTTP_AUTHORIZATION="Bearer " + fresh).status_code == 200


def test_password_authentication_gets_no_token(client, admin):
    response = client.get(f"{API}/profile", {"username": "admin", "password": "hans"})
    assert response.status_code == 200
    assert "token" not in response
    assert response.json()["data"]["token_expires"] is None


def test_deactivated_user_loses_access_at_once(api, make_user, client):
    user = make_user("worker", perm=["api://core4.api.v1.request.standard.*"])
    token = Api(Client()).login("worker", "secret").token
    assert Client().get(f"{API}/profile", HTTP_AUTHORIZATION="Bearer " + token).status_code == 200
    user.refresh_from_db()
    assert api.put(f"/roles/{user.pk}", {"is_active": False, "etag": user.etag}).status_code == 200
    response = Client().get(f"{API}/profile", HTTP_AUTHORIZATION="Bearer " + token)
    assert response.status_code == 401
    assert (
        Client().get(f"{API}/login", {"username": "worker", "password": "secret"}).status_code
        == 401
    )


def test_deleted_user_loses_access_at_once(api, make_user):
    user = make_user("gone", perm=["api://core4.api.v1.request.standard.*"])
    token = Api(Client()).login("gone", "secret").token
    assert api.delete(f"/roles/{user.pk}?etag={user.etag}").status_code == 200
    assert Client().get(f"{API}/profile", HTTP_AUTHORIZATION="Bearer " + token).status_code == 401


def test_forged_and_malformed_tokens_are_401(client, admin, settings):
    token = Api(client).login().token
    client.cookies.clear()
    header, payload, signature = token.split(".")
    forged_payload = (
        base64.urlsafe_b64encode(
            base64.urlsafe_b64decode(payload + "==").replace(b'"admin"', b'"other"')
        )
        .rstrip(b"=")
        .decode()
    )
    for bad in [
        f"{header}.{forged_payload}.{signature}",
        f"{header}.{payload}.{signature[::-1]}",
        "a.b.c",
        "x" * 5000,
        "",
        "ey",
    ]:
        response = client.get(f"{API}/profile", {"token": bad})
        assert response.status_code == 401, bad[:40]
        assert response.json()["code"] == 401
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT}
    other_key = __import__("jwt").encode(
        {"user_id": admin.pk, "token_type": "access", "exp": 9999999999, "jti": "x"},
        "another secret of sixty-four bytes or more, so that PyJWT does not warn",
        algorithm="HS512",
    )
    assert client.get(f"{API}/profile", {"token": other_key}).status_code == 401


def test_logout_clears_the_cookie(client, admin):
    Api(client).login()
    token = client.post(
        f"{API}/login", {"username": "admin", "password": "hans"}, content_type="application/json"
    ).json()["data"]["token"]
    assert client.get(f"{API}/profile").status_code == 200  # by the cookie
    response = client.post(f"{API}/logout", HTTP_AUTHORIZATION="Bearer " + token)
    assert response.status_code == 200
    assert response.json()["data"] == "OK"
    assert response.cookies["token"].value == ""
    assert client.get(f"{API}/profile").status_code == 401


def test_get_logout_answers_without_clearing_the_cookie(client, admin):
    client.post(
        f"{API}/login", {"username": "admin", "password": "hans"}, content_type="application/json"
    )
    response = client.get(f"{API}/logout")
    assert response.status_code == 200 and response.json()["data"] == "OK"
    assert "token" not in response.cookies
    assert client.get(f"{API}/profile").status_code == 200


def test_login_updates_last_login_only_for_passwords(client, admin):
    assert admin.last_login is None
    token = Api(client).login().token
    admin.refresh_from_db()
    first = admin.last_login
    assert first is not None
    client.get(f"{API}/login", {"token": token})
    admin.refresh_from_db()
    assert admin.last_login == first
