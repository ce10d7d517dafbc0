"""Sessions end: an absolute lifetime from the password login that refreshes cannot extend, and
a per-user token generation bumped by a password change, deactivation and "log out
everywhere". The profile's password change asks for the current password."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.sessions import LOGIN_CLAIM
from accounts.tokens import issue_token
from tests import support
from tests.events.helpers import interest, open_socket
from tests.support import Api, error_of

STANDARD = "standard_user"


@pytest.fixture
def admin(db):
    user = User(name="admin", email="admin@example.com", perm=["cop"])
    user.set_password("hans")
    user.save()
    return user


def make_user(name: str, password: str = "secret") -> User:
    return support.make_user(name, roles=(STANDARD,), password=password)


def login(name: str, password: str = "secret") -> str:
    response = Client().get("/core4/api/login", {"username": name, "password": password})
    assert response.status_code == 200, response.content
    return response.json()["data"]["token"]


def profile_status(token: str) -> int:
    return Api(Client(), token).get("/profile").status_code


# --- absolute session lifetime ----------------------------------------------------------------
@pytest.mark.django_db
def test_token_login_cannot_extend_the_session(settings):
    settings.CORE4_SESSION_MAX = 60
    make_user("me")
    first = login("me")
    renewed = Api(Client(), first).get("/login").json()["data"]["token"]
    claims, again = AccessToken(first), AccessToken(renewed)
    assert again["exp"] <= claims["iat"] + 60 + 1
    renewed2 = Api(Client(), renewed).get("/login").json()["data"]["token"]
    assert AccessToken(renewed2)["exp"] <= claims["iat"] + 60 + 1


@pytest.mark.django_db
def test_a_session_older_than_the_maximum_is_refused(settings):
    settings.CORE4_SESSION_MAX = 60
    user = make_user("me")
    assert profile_status(login("me")) == 200
    old = issue_token(user)
    old[LOGIN_CLAIM] = time.time() - 61  # logged in with the password 61 s ago
    token = str(old)
    response = Api(Client(), token).get("/login")
    assert response.status_code == 401 and "session expired" in error_of(response)
    assert profile_status(token) == 401


@pytest.mark.django_db
def test_refresh_header_is_capped_too(settings):
    settings.CORE4_SESSION_MAX = 30
    settings.CORE4_TOKEN_REFRESH = 0
    make_user("me")
    token = login("me")
    response = Api(Client(), token).get("/profile")
    refreshed = response["token"]
    assert AccessToken(refreshed)["exp"] <= AccessToken(token)["iat"] + 30 + 1


# --- the token generation ---------------------------------------------------------------------
@pytest.mark.django_db
def test_logout_everywhere_revokes_every_token(admin):
    make_user("me")
    first, second = login("me"), login("me")
    response = Api(Client(), first).post("/logout", {"all": True})
    assert response.status_code == 200
    assert profile_status(first) == 401 and profile_status(second) == 401
    assert Api(Client(), second).get("/login").status_code == 401
    assert profile_status(login("me")) == 200


@pytest.mark.django_db
def test_plain_logout_revokes_nothing(admin):
    make_user("me")
    token = login("me")
    assert Api(Client(), token).post("/logout").status_code == 200
    assert profile_status(token) == 200


@pytest.mark.django_db
def test_password_change_by_an_admin_revokes_tokens(admin):
    user = make_user("me")
    token = login("me")
    api = Api(Client()).login("admin", "hans")
    response = api.put(f"/roles/{user.pk}", {"etag": user.etag, "password": "other one"})
    assert response.status_code == 200
    assert profile_status(token) == 401


@pytest.mark.django_db
def test_deactivation_revokes_tokens_for_good(admin):
    user = make_user("me")
    token = login("me")
    api = Api(Client()).login("admin", "hans")
    etag = api.put(f"/roles/{user.pk}", {"etag": user.etag, "is_active": False}).json()["data"]
    assert profile_status(token) == 401
    api.put(f"/roles/{user.pk}", {"etag": etag["etag"], "is_active": True})
    assert profile_status(token) == 401
    assert profile_status(login("me")) == 200


@pytest.mark.django_db
def test_other_users_keep_their_sessions(admin):
    make_user("me"), make_user("you")
    mine, yours = login("me"), login("you")
    Api(Client(), mine).post("/logout", {"all": True})
    assert profile_status(yours) == 200


# --- the profile's password change ------------------------------------------------------------
@pytest.mark.django_db
def test_profile_password_change_needs_the_current_password(admin):
    make_user("me")
    token = login("me")
    me = Api(Client(), token)
    etag = me.get("/profile").json()["data"]["etag"]
    missing = me.put("/profile", {"password": "new secret", "etag": etag})
    assert missing.status_code == 400 and "current_password" in error_of(missing)
    wrong = me.put("/profile", {"password": "new secret", "etag": etag, "current_password": "x"})
    assert wrong.status_code == 403 and "current password" in error_of(wrong)
    assert (
        Client().get("/core4/api/login", {"username": "me", "password": "secret"}).status_code
        == 200
    )
    assert profile_status(token) == 200
    other = login("me")
    ok = me.put("/profile", {"password": "new secret", "etag": etag, "current_password": "secret"})
    assert ok.status_code == 200
    # every earlier token is gone, the response carries a fresh one for this client
    assert profile_status(token) == 401 and profile_status(other) == 401
    assert profile_status(ok["token"]) == 200
    assert (
        Client().get("/core4/api/login", {"username": "me", "password": "new secret"}).status_code
        == 200
    )


@pytest.mark.django_db
def test_profile_changes_without_password_need_no_current_password(admin):
    make_user("me")
    me = Api(Client(), login("me"))
    etag = me.get("/profile").json()["data"]["etag"]
    assert me.put("/profile", {"realname": "Me", "etag": etag}).status_code == 200


# --- open sockets -----------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_logout_everywhere_closes_open_sockets():
    user = await database_sync_to_async(make_user)("me")
    token = await database_sync_to_async(lambda: str(issue_token(user)))()
    ws = await open_socket(token)
    assert (await interest(ws, ["queue"]))["type"] == "interest"

    def logout_everywhere():
        try:
            return Api(Client(), token).post("/logout", {"all": True})
        finally:
            connection.close()  # this worker thread's connection: not left to the teardown

    response = await database_sync_to_async(logout_everywhere)()
    assert response.status_code == 200
    start = time.monotonic()
    while True:
        output = await ws.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            break
    assert output["code"] == 4401 and time.monotonic() - start < 10  # promised: 2 s
    refused = await open_socket(token)
    assert (await refused.receive_output(timeout=5))["code"] == 4401
