import json

import pytest

from accounts.models import Role, User

API = "/core4/api/v1"


class Api:
    """A small client speaking core4's conventions on top of Django's test client."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def login(self, username="admin", password="hans"):
        response = self.client.get("/core4/api/login", {"username": username, "password": password})
        assert response.status_code == 200, response.content
        self.token = response.json()["data"]["token"]
        self.client.cookies.clear()
        return self

    def _headers(self, headers):
        result = {}
        if self.token:
            result["HTTP_AUTHORIZATION"] = "Bearer " + self.token
        result.update(headers or {})
        return result

    def get(self, path, data=None, **headers):
        return self.client.get(API + path, data or {}, **self._headers(headers))

    def _send(self, method, path, body, headers):
        return getattr(self.client, method)(
            API + path,
            json.dumps(body) if body is not None else "",
            content_type="application/json",
            **self._headers(headers),
        )

    def post(self, path, body=None, **headers):
        return self._send("post", path, body, headers)

    def put(self, path, body=None, **headers):
        return self._send("put", path, body, headers)

    def delete(self, path, body=None, **headers):
        return self._send("delete", path, body, headers)


@pytest.fixture
def admin(db):
    user = User(name="admin", realname="admin user", email="admin@example.com", perm=["cop"])
    user.set_password("hans")
    user.save()
    return user


@pytest.fixture
def api(client, admin):
    """Logged in as admin."""
    return Api(client).login()


@pytest.fixture
def anon(client, db):
    return Api(client)


@pytest.fixture
def make_user(db):
    def make(name, perm=(), roles=(), password="secret", email=None, is_active=True):
        user = User(
            name=name,
            email=email or f"{name}@example.com",
            perm=list(perm),
            is_active=is_active,
        )
        user.set_password(password)
        user.save()
        user.roles.set(Role.objects.filter(name__in=roles))
        return user

    return make


def error_of(response):
    body = response.json()
    assert "data" not in body, body
    assert body["code"] == response.status_code
    return body.get("error", "")
