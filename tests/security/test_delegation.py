"""Issue 10 item 10: delegated role management is not administration.

A user with ``api://core4.api.v1.request.role.main.RoleHandler`` but without ``cop`` may
grant only permissions and roles it holds itself (never ``cop``) and may not change or
delete users and roles that hold more than it does: 403 in words.
"""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role, User
from tests.support import Api, error_of

ROLES = "api://core4.api.v1.request.role.main.RoleHandler"
DELEGATE_PERMS = [ROLES, "job://tests.*/x", "api://core4.api.v1.request.standard.*"]


@pytest.fixture
def team(db):
    """A role the delegate holds, and one it does not."""
    mine = Role.objects.create(name="team", perm=["app://team"])
    Role.objects.create(name="ops", perm=["job://.*/x"])
    Role.objects.create(name="admins", perm=["cop"])
    return mine


@pytest.fixture
def delegate(make_user, team):
    make_user("delegate", perm=DELEGATE_PERMS, roles=("team",))
    return Api(Client()).login("delegate", "secret")


def _forbidden(response) -> str:
    assert response.status_code == 403, response.json()
    return error_of(response)


def test_cannot_grant_itself_cop(delegate):
    me = User.objects.get(name="delegate")
    response = delegate.put(f"/roles/{me.pk}", {"etag": me.etag, "perm": [*DELEGATE_PERMS, "cop"]})
    assert "cop" in _forbidden(response)
    assert "cop" not in User.objects.get(name="delegate").perm


def test_cannot_create_a_cop(delegate):
    body = {"name": "evil", "email": "evil@example.com", "password": "x", "perm": ["cop"]}
    assert "cop" in _forbidden(delegate.post("/roles", body))
    assert not Role.objects.filter(name="evil").exists()


def test_cannot_grant_a_role_holding_cop_or_one_it_does_not_hold(delegate):
    for role in ("admins", "ops"):
        body = {"name": f"via-{role}", "email": f"{role}@example.com", "role": [role]}
        assert role in _forbidden(delegate.post("/roles", body))
    assert not Role.objects.filter(name__startswith="via-").exists()


def test_cannot_grant_a_permission_it_does_not_hold(delegate):
    body = {"name": "wider", "perm": ["job://.*/x"]}
    assert "job://.*/x" in _forbidden(delegate.post("/roles", body))


def test_may_grant_what_it_holds(delegate):
    body = {
        "name": "helper",
        "email": "helper@example.com",
        "password": "pw",
        "perm": ["job://tests.*/x", "app://team"],
        "role": ["team"],
    }
    response = delegate.post("/roles", body)
    assert response.status_code == 200, response.json()
    created = User.objects.get(name="helper")
    again = delegate.put(f"/roles/{created.pk}", {"etag": created.etag, "realname": "Helper"})
    assert again.status_code == 200, again.json()


def test_cannot_change_or_delete_someone_holding_more(delegate, admin):
    for change in ({"password": "mine-now"}, {"realname": "pwned"}, {"is_active": False}):
        response = delegate.put(f"/roles/{admin.pk}", {"etag": admin.etag, **change})
        _forbidden(response)
    _forbidden(delegate.delete(f"/roles/{admin.pk}?etag={admin.etag}"))
    ops = Role.objects.get(name="ops")
    _forbidden(delegate.put(f"/roles/{ops.pk}", {"etag": ops.etag, "perm": []}))
    assert User.objects.get(pk=admin.pk).check_password("hans")


def test_cannot_widen_a_role_it_holds_beyond_itself(delegate, team):
    response = delegate.put(f"/roles/{team.pk}", {"etag": team.etag, "perm": ["cop"]})
    _forbidden(response)


def test_admin_is_unrestricted(make_user, admin):
    api = Api(Client()).login()
    body = {"name": "second", "email": "second@example.com", "password": "x", "perm": ["cop"]}
    assert api.post("/roles", body).status_code == 200


def test_the_engine_says_what_a_principal_may_not_hand_on():
    from accounts.permissions import access_from

    delegate = access_from([ROLES, "app://x"])
    assert delegate.lacks([ROLES, "app://x"]) == []
    assert delegate.lacks(["cop", "app://y", ROLES]) == ["app://y", "cop"]
    assert access_from(["cop"]).lacks(["cop", "app://y"]) == []
