"""/core4/api/v1/profile: own record, cascaded permissions, self-service changes."""

from django.test import Client

from tests.accounts.conftest import Api, error_of


def test_profile_shows_cascade_and_token_expiry(api, make_user):
    make_user("me", perm=["app://own"], roles=["standard_user"])
    me = Api(Client()).login("me", "secret")
    data = me.get("/profile").json()["data"]
    assert data["name"] == "me" and data["perm"] == ["app://own"]
    assert "app://own" in data["perm_total"]
    assert "api://core4.api.v1.request.standard.*" in data["perm_total"]
    assert data["role"] == ["standard_user"] and data["role_total"] == ["standard_user"]
    assert data["last_login"] and data["token_expires"] and data["is_active"] is True
    assert "password" not in data


def test_profile_update(api, make_user):
    make_user("me", roles=["standard_user"])
    make_user("other", roles=["standard_user"])
    me = Api(Client()).login("me", "secret")
    missing = me.put("/profile", {"realname": "Me"})
    assert missing.status_code == 400 and "Missing argument etag" in error_of(missing)
    etag = me.get("/profile").json()["data"]["etag"]
    ok = me.put("/profile", {"realname": "Me Myself", "etag": etag})
    assert ok.status_code == 200 and ok.json()["data"]["realname"] == "Me Myself"
    etag = ok.json()["data"]["etag"]
    assert (
        me.put("/profile", {"realname": "Me Myself", "etag": etag}).json()["data"] == "no changes"
    )
    dup = me.put("/profile", {"email": "other@example.com", "etag": etag})
    assert dup.status_code == 400 and "mail exists" in error_of(dup)
    empty = me.put("/profile", {"email": "", "etag": etag})
    assert empty.status_code == 400
    # perm, role, name and is_active cannot be changed here
    me.put("/profile", {"perm": ["cop"], "name": "boss", "is_active": False, "etag": etag})
    data = me.get("/profile").json()["data"]
    assert data["perm"] == [] and data["name"] == "me" and data["is_active"] is True
    unproven = me.put("/profile", {"password": "new secret", "etag": etag})
    assert unproven.status_code == 400 and "current_password" in error_of(unproven)
    changed = me.put(
        "/profile", {"password": "new secret", "etag": etag, "current_password": "secret"}
    )
    assert changed.status_code == 200
    client = Client()
    assert (
        client.get("/core4/api/login", {"username": "me", "password": "secret"}).status_code == 401
    )
    assert (
        client.get("/core4/api/login", {"username": "me", "password": "new secret"}).status_code
        == 200
    )
