"""The permission engine and the api:// method-letter matrix."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.permissions import Access, validate_permission, validate_permissions
from tests.accounts.conftest import API, Api

ROLES = "core4.api.v1.request.role.main.RoleHandler"


@pytest.mark.parametrize(
    ("perms", "name", "method", "allowed"),
    [
        (["cop"], "anything.at.all", "DELETE", True),
        (["api://core4.api.v1"], ROLES, "DELETE", True),  # prefix match, all methods
        (["api://core4.api.v1.request.standard"], ROLES, "GET", False),
        (["api://core4.api.v1.request.role/r"], ROLES, "GET", True),
        (["api://core4.api.v1.request.role/r"], ROLES, "HEAD", True),
        (["api://core4.api.v1.request.role/r"], ROLES, "POST", False),
        (["api://core4.api.v1.request.role/c"], ROLES, "POST", True),
        (["api://core4.api.v1.request.role/c"], ROLES, "GET", False),
        (["api://core4.api.v1.request.role/u"], ROLES, "PUT", True),
        (["api://core4.api.v1.request.role/u"], ROLES, "PATCH", True),
        (["api://core4.api.v1.request.role/d"], ROLES, "DELETE", True),
        (["api://core4.api.v1.request.role/rd"], ROLES, "PUT", False),
        (["api://core4.api.v1.request.role/RD"], ROLES, "DELETE", True),
        (["api://core4.api.v1.request.role/"], ROLES, "GET", False),  # empty suffix: nothing
        (
            ["api://core4.api.v1.request.queue.history.*"],
            "core4.api.v1.request.queue.history.JobHistoryHandler",
            "GET",
            True,
        ),
        (
            ["api://core4.api.v1.request.queue.history.*"],
            "core4.api.v1.request.queue.job.JobHandler",
            "GET",
            False,
        ),
        (["job://x/r", "app://y", "mongodb://z"], ROLES, "GET", False),
    ],
)
def test_api_access(perms, name, method, allowed):
    assert Access(frozenset(perms)).has_api_access(name, method) is allowed


def test_job_access():
    reader = Access(frozenset({"job://core4.queue.helper.*/r"}))
    executor = Access(frozenset({"job://tests.+/x"}))
    assert reader.can_read_job("core4.queue.helper.job.example.DummyJob")
    assert not reader.can_execute_job("core4.queue.helper.job.example.DummyJob")
    assert executor.can_read_job("tests.project.Job") and executor.can_execute_job("tests.x.Y")
    assert not executor.can_read_job("core4.queue.helper.job.example.DummyJob")
    assert Access(frozenset({"cop"})).can_execute_job("whatever")
    assert not Access().can_read_job("x")


def test_validation_messages():
    with pytest.raises(ValidationError, match=r"invalid permission protocol \[bla\]"):
        validate_permission("bla")
    with pytest.raises(ValidationError, match=r"expected as_type \[list\]"):
        validate_permissions("cop")
    assert validate_permissions(["cop", "cop", "app://a"]) == ["app://a", "cop"]


@pytest.mark.parametrize(
    ("letters", "get", "post", "put", "delete"),
    [
        ("r", 200, 403, 403, 403),
        ("c", 403, 200, 403, 403),
        ("u", 403, 403, 400, 403),
        ("d", 403, 403, 403, 400),
        ("rd", 200, 403, 403, 400),
        ("rcd", 200, 200, 403, 400),
    ],
)
def test_method_letter_matrix_over_http(api, make_user, letters, get, post, put, delete):
    """Allowed methods reach the view (200, or 400 for the missing etag); others are 403."""
    make_user("limited", perm=[f"api://core4.api.v1.request.role/{letters}"])
    user = Api(Client()).login("limited", "secret")
    admin_id = api.get("/roles", {"filter": '{"name": "admin"}'}).json()["data"][0]["_id"]
    assert user.get("/roles").status_code == get
    assert user.post("/roles", {"name": f"new_{letters}"}).status_code == post
    assert user.put(f"/roles/{admin_id}", {"realname": "x"}).status_code == put
    assert user.delete(f"/roles/{admin_id}").status_code == delete


def test_401_versus_403(client, make_user, admin):
    assert client.get(f"{API}/roles").status_code == 401
    make_user("nobody", perm=[])
    nobody = Api(Client()).login("nobody", "secret")
    response = nobody.get("/roles")
    assert response.status_code == 403
    assert response.json()["message"] == "Forbidden"
    assert nobody.get("/profile").status_code == 403  # no standard_user role either


def test_permission_change_takes_effect_on_next_request(api, make_user):
    user = make_user("changing", perm=["api://core4.api.v1"])
    session = Api(Client()).login("changing", "secret")
    assert session.get("/profile").status_code == 200
    user.refresh_from_db()
    api.put(f"/roles/{user.pk}", {"perm": [], "etag": user.etag})
    assert session.get("/profile").status_code == 403


def test_standard_user_role(api, make_user):
    make_user("std", roles=["standard_user"])
    std = Api(Client()).login("std", "secret")
    assert std.get("/profile").status_code == 200
    assert std.get("/logout").status_code == 200
    assert std.get("/roles").status_code == 403
    assert std.post("/profile").status_code == 405  # allowed API, method not implemented
