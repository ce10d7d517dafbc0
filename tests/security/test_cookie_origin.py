"""Issue 10 item 7: cookie authentication is same-origin only.

A browser attaches the ``token`` cookie to requests other sites make it send; only the
server's own origin (or ``CORE4_ALLOWED_ORIGINS``) may write with the cookie alone. Clients
that send the token themselves (header, argument) are unaffected.
"""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role, User
from accounts.tokens import COOKIE_NAME, issue_token
from jobqueue.models import Job
from tests.security.conftest import API, FOREIGN, OWN

DUMMY = "core4.queue.helper.job.example.DummyJob"
ROLE = '{"name": "evil", "email": "evil@example.com", "password": "evil", "perm": ["cop"]}'


def _error(response):
    body = response.json()
    return body["code"], body.get("error", "")


# --- unsafe methods with the cookie alone ------------------------------------------------------
def test_cross_origin_text_plain_post_cannot_create_a_cop(cookie_client):
    response = cookie_client.post(
        f"{API}/roles", ROLE, content_type="text/plain", HTTP_ORIGIN=FOREIGN
    )
    code, error = _error(response)
    assert response.status_code == code == 403
    assert "origin" in error.lower()
    assert not Role.objects.filter(name="evil").exists()


def test_cross_origin_form_post_cannot_enqueue(cookie_client):
    response = cookie_client.post(
        f"{API}/job",
        f"qual_name={DUMMY}",
        content_type="application/x-www-form-urlencoded",
        HTTP_ORIGIN=FOREIGN,
    )
    assert response.status_code == 403, response.json()["error"]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "origin",
    [
        FOREIGN,
        "https://testserver",  # scheme differs
        "http://testserver:8080",  # port differs
        "http://testserver.evil.example",
        "null",  # sandboxed frames, file:// pages
    ],
)
def test_origin_must_match_exactly(cookie_client, origin):
    response = cookie_client.post(
        f"{API}/roles", ROLE, content_type="application/json", HTTP_ORIGIN=origin
    )
    assert response.status_code == 403, origin


def test_foreign_referer_without_origin_is_refused(cookie_client):
    response = cookie_client.post(
        f"{API}/roles", ROLE, content_type="application/json", HTTP_REFERER=FOREIGN + "/page"
    )
    assert response.status_code == 403


def test_no_origin_and_no_referer_is_refused(cookie_client):
    response = cookie_client.post(f"{API}/roles", ROLE, content_type="application/json")
    assert response.status_code == 403


def test_same_origin_writes_with_the_cookie(cookie_client):
    response = cookie_client.post(
        f"{API}/roles",
        '{"name": "fine", "perm": []}',
        content_type="application/json",
        HTTP_ORIGIN=OWN,
    )
    assert response.status_code == 200, response.json()
    by_referer = cookie_client.post(
        f"{API}/roles",
        '{"name": "fine2", "perm": []}',
        content_type="application/json",
        HTTP_REFERER=OWN + "/#jobs",
    )
    assert by_referer.status_code == 200, by_referer.json()


def test_safe_methods_with_the_cookie_need_no_origin(cookie_client):
    assert cookie_client.get(f"{API}/profile").status_code == 200
    assert cookie_client.get(f"{API}/profile", HTTP_ORIGIN=FOREIGN).status_code == 200


def test_allowed_origins_setting(cookie_client, settings):
    settings.CORE4_ALLOWED_ORIGINS = ["https://core4.example.com"]
    ok = cookie_client.post(
        f"{API}/roles",
        '{"name": "viaproxy", "perm": []}',
        content_type="application/json",
        HTTP_ORIGIN="https://core4.example.com",
    )
    assert ok.status_code == 200, ok.json()
    own = cookie_client.post(f"{API}/roles", ROLE, content_type="application/json", HTTP_ORIGIN=OWN)
    assert own.status_code == 403  # the list replaces the default


def test_header_and_argument_tokens_are_unaffected(admin, db):
    token = str(issue_token(admin))
    client = Client()
    by_header = client.post(
        f"{API}/roles",
        '{"name": "hdr", "perm": []}',
        content_type="application/json",
        HTTP_ORIGIN=FOREIGN,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert by_header.status_code == 200, by_header.json()
    by_argument = client.post(
        f"{API}/roles?token={token}",
        '{"name": "arg", "perm": []}',
        content_type="application/json",
        HTTP_ORIGIN=FOREIGN,
    )
    assert by_argument.status_code == 200, by_argument.json()


# --- login and logout --------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/core4/api/login", f"{API}/login"])
def test_get_login_returns_a_token_but_sets_no_cookie(admin, path):
    client = Client()
    response = client.get(path, {"username": "admin", "password": "hans"})
    assert response.status_code == 200
    token = response.json()["data"]["token"]
    assert response["token"] == token
    assert COOKIE_NAME not in response.cookies


def test_post_login_sets_the_cookie(admin):
    client = Client()
    response = client.post(
        f"{API}/login",
        '{"username": "admin", "password": "hans"}',
        content_type="application/json",
        HTTP_ORIGIN=OWN,
    )
    assert response.status_code == 200
    assert response.cookies[COOKIE_NAME].value == response.json()["data"]["token"]
    assert response.cookies[COOKIE_NAME]["httponly"]


def test_cross_origin_post_login_sets_no_cookie(admin):
    """Login CSRF: another site must not sign the browser in as the attacker."""
    client = Client()
    response = client.post(
        f"{API}/login",
        "username=admin&password=hans",
        content_type="application/x-www-form-urlencoded",
        HTTP_ORIGIN=FOREIGN,
    )
    assert COOKIE_NAME not in response.cookies


def test_get_logout_does_not_clear_the_cookie(cookie_client):
    response = cookie_client.get(f"{API}/logout")
    assert response.status_code == 200
    assert COOKIE_NAME not in response.cookies
    assert cookie_client.get(f"{API}/profile").status_code == 200


def test_post_logout_clears_the_cookie(cookie_client):
    response = cookie_client.post(f"{API}/logout", HTTP_ORIGIN=OWN)
    assert response.status_code == 200
    assert response.cookies[COOKIE_NAME].value == ""


def test_cross_origin_post_logout_is_refused(cookie_client):
    response = cookie_client.post(f"{API}/logout", HTTP_ORIGIN=FOREIGN)
    assert response.status_code == 403
    assert COOKIE_NAME not in response.cookies


def test_users_are_not_created_by_refused_requests(cookie_client):
    cookie_client.post(f"{API}/roles", ROLE, content_type="text/plain", HTTP_ORIGIN=FOREIGN)
    assert not User.objects.filter(name="evil").exists()


def test_a_token_argument_never_plants_a_cookie(admin, settings):
    """A refreshed token goes to the cookie only for requests that came with the cookie."""
    settings.CORE4_TOKEN_REFRESH = -1  # every token is due for a refresh
    client = Client()
    response = client.get(f"{API}/profile", {"token": str(issue_token(admin))})
    assert response.status_code == 200
    assert response["token"]  # the fresh token, for the client that asked
    assert COOKIE_NAME not in response.cookies
