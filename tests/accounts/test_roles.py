"""/core4/api/v1/roles: create, list, detail, update, delete with core4's rules."""

import pytest

from accounts.models import Role, User
from tests.accounts.conftest import error_of
from tests.support import SEED_USER

USER = SEED_USER


def test_create_user_as_in_the_seed(api, client):
    response = api.post("/roles", USER)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["name"] == "test" and data["email"] == "test@plan-net.com"
    assert data["role"] == ["standard_user"]
    assert len(data["etag"]) == 24 and len(data["_id"]) == 24
    assert "password" not in data and "passwd" not in data
    user = User.objects.get(name="test")
    assert user.password.startswith("md5$") or user.password.startswith("pbkdf2")
    assert user.check_password("very secret")


def test_passwd_is_accepted_as_in_core4(api):
    body = dict(USER, name="test2", email="t2@example.com")
    body["passwd"] = body.pop("password")
    assert api.post("/roles", body).status_code == 200
    assert User.objects.get(name="test2").check_password("very secret")


def test_create_role_without_email(api):
    response = api.post("/roles", {"name": "reporting", "perm": ["api://reporting.api.v1.public"]})
    data = response.json()["data"]
    assert response.status_code == 200
    assert "email" not in data
    assert Role.objects.filter(name="reporting", user__isnull=True).exists()


def test_user_with_email_only_cannot_log_in_until_a_password_is_set(api, client):
    assert api.post("/roles", {"name": "mailonly", "email": "m@example.com"}).status_code == 200
    assert not User.objects.get(name="mailonly").has_usable_password()


@pytest.mark.parametrize(
    ("body", "status", "phrase"),
    [
        ({}, 400, "Missing argument name"),
        ({"name": "m r a"}, 400, "field [name] must match"),
        ({"name": ""}, 400, "field [name] must match"),
        ({"name": 123}, 400, "field [name]"),
        ({"name": "x", "email": "not-an-email", "password": "p"}, 400, "field [email] must match"),
        ({"name": "x", "password": "p"}, 400, "requires email on creation"),
        ({"name": "x", "perm": "bla"}, 400, "parameter [perm] expected as_type [list]"),
        ({"name": "x", "perm": ["bla"]}, 400, "invalid permission protocol [bla]"),
        ({"name": "x", "perm": ["app:hello"]}, 400, "invalid permission protocol [app:hello]"),
        ({"name": "x", "perm": ["app:/hello"]}, 400, "invalid permission protocol"),
        ({"name": "x", "perm": ["app://hello", "api:/bla"]}, 400, "invalid permission protocol"),
        ({"name": "x", "perm": ["api://core4.x/x"]}, 400, "invalid permission protocol"),
        ({"name": "x", "perm": ["api://core4.x/rxc"]}, 400, "invalid permission protocol"),
        ({"name": "x", "perm": ["job://core4.x"]}, 400, "invalid permission protocol"),
        ({"name": "x", "perm": ["job://core4.x/rx"]}, 400, "invalid permission protocol"),
        ({"name": "x", "perm": ["api://(unclosed"]}, 400, "invalid permission protocol"),
        ({"name": "x", "perm": [1]}, 400, "invalid permission protocol"),
        ({"name": "x", "is_active": "x"}, 400, "parameter [is_active] expected as_type [bool]"),
        ({"name": "x", "role": "standard_user"}, 400, "parameter [role] expected as_type [list]"),
        ({"name": "x", "role": ["nope"]}, 404, "role [nope] not found"),
        ({"name": "x" * 1000}, 400, "field [name]"),
        ({"name": "x", "realname": "y" * 10000}, 400, "field [realname]"),
    ],
)
def test_validation_errors(api, body, status, phrase):
    response = api.post("/roles", body)
    assert response.status_code == status
    assert phrase in error_of(response)


def test_valid_permission_strings(api):
    perms = [
        "cop",
        "app://hello",
        "app://store/a/b",
        "api://bla",
        "api://core4.api.v1.request.role/rd",
        "api://core4.api.v1/",
        "job://core4.queue.helper.*/x",
        "job://tests.+/r",
        "mongodb://test",
    ]
    response = api.post("/roles", {"name": "valid", "perm": perms})
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["perm"] == sorted(perms)


def test_duplicate_name_and_email(api):
    assert api.post("/roles", USER).status_code == 200
    again = api.post("/roles", USER)
    assert again.status_code == 400 and "name or email exists" in error_of(again)
    same_mail = api.post("/roles", dict(USER, name="other"))
    assert same_mail.status_code == 400 and "exists" in error_of(same_mail)
    upper = api.post("/roles", dict(USER, name="TEST", email="x@example.com"))
    assert upper.status_code == 400 and "exists" in error_of(upper)
    role_clash = api.post("/roles", {"name": "admin"})
    assert role_clash.status_code == 400


def _role(api, name, roles=(), perm=()):
    response = api.post("/roles", {"name": name, "role": list(roles), "perm": list(perm)})
    assert response.status_code == 200, response.json()
    return response.json()["data"]


def test_nested_roles_cascade(api):
    r1 = _role(api, "test_role1", perm=["app://1"])
    r2 = _role(api, "test_role2", ["test_role1"], ["app://2"])
    r3 = _role(api, "test_role3", ["test_role2"], ["app://3"])
    detail = api.get(f"/roles/{r3['_id']}").json()["data"]
    assert detail["perm"] == ["app://3"]
    assert detail["perm_total"] == ["app://1", "app://2", "app://3"]
    assert detail["role"] == ["test_role2"]
    assert detail["role_total"] == ["test_role1", "test_role2"]
    assert api.get(f"/roles/{r2['_id']}").json()["data"]["perm_total"] == ["app://1", "app://2"]
    # deleting role 1 shrinks the cascade of the others
    assert api.delete(f"/roles/{r1['_id']}", {"etag": r1["etag"]}).status_code == 200
    detail = api.get(f"/roles/{r3['_id']}").json()["data"]
    assert detail["perm_total"] == ["app://2", "app://3"]
    assert detail["role_total"] == ["test_role2"]
    assert api.get(f"/roles/{r2['_id']}").json()["data"]["role"] == []


def test_cycles_are_tolerated_and_self_is_hidden(api):
    r1 = _role(api, "test_role1", perm=["app://1"])
    r2 = _role(api, "test_role2", ["test_role1"], ["app://2"])
    response = api.put(
        f"/roles/{r1['_id']}",
        {"role": ["test_role2", "test_role1", "test_role2"], "etag": r1["etag"]},
    )
    assert response.status_code == 200, response.json()
    detail = api.get(f"/roles/{r1['_id']}").json()["data"]
    assert detail["role"] == ["test_role2"]
    assert detail["role_total"] == ["test_role2"]
    assert detail["perm_total"] == ["app://1", "app://2"]
    again = api.put(
        f"/roles/{r1['_id']}", {"role": ["test_role2", "test_role1"], "etag": detail["etag"]}
    )
    assert again.json()["data"] == "no changes"
    assert api.get(f"/roles/{r2['_id']}").json()["data"]["perm_total"] == ["app://1", "app://2"]


def test_inactive_roles_are_neither_counted_nor_traversed(api, make_user, client):
    r1 = _role(api, "inner", perm=["app://inner"])
    r2 = _role(api, "middle", ["inner"], ["api://core4.api.v1.request.standard.*"])
    user = make_user("u", roles=["middle"])
    assert api.get(f"/roles/{user.pk}").json()["data"]["perm_total"] == [
        "api://core4.api.v1.request.standard.*",
        "app://inner",
    ]
    api.put(f"/roles/{r2['_id']}", {"is_active": False, "etag": r2["etag"]})
    assert api.get(f"/roles/{user.pk}").json()["data"]["perm_total"] == []
    assert r1  # inner stays, unreachable
    assert (
        client.get("/core4/api/v1/profile", {"username": "u", "password": "secret"}).status_code
        == 403
    )


def test_update_with_etag(api):
    created = api.post("/roles", USER).json()["data"]
    pk, etag = created["_id"], created["etag"]
    missing = api.put(f"/roles/{pk}", {"realname": "x"})
    assert missing.status_code == 400 and "Missing argument etag" in error_of(missing)
    same = api.put(f"/roles/{pk}", dict(created, perm_total=["ignored"]))
    assert same.status_code == 200 and same.json()["data"] == "no changes"
    changed = api.put(f"/roles/{pk}", {"realname": "New Name", "etag": etag})
    data = changed.json()["data"]
    assert changed.status_code == 200 and data["realname"] == "New Name"
    assert data["etag"] != etag and data["updated"]
    stale = api.put(f"/roles/{pk}", {"realname": "Other", "etag": etag})
    assert stale.status_code == 400 and f"update [{pk}] with etag [{etag}] failed" in error_of(
        stale
    )
    rename = api.put(f"/roles/{pk}", {"name": "admin", "etag": data["etag"]})
    assert rename.status_code == 400 and "exists" in error_of(rename)
    ok = api.put(f"/roles/{pk}", {"name": "admin2", "etag": data["etag"]})
    assert ok.status_code == 200
    names = [r["name"] for r in api.get("/roles", {"sort": "name"}).json()["data"]]
    assert names == ["admin", "admin2", "standard_user"]


def test_password_change_takes_effect(api, client):
    created = api.post("/roles", USER).json()["data"]
    api.put(f"/roles/{created['_id']}", {"passwd": "new one", "etag": created["etag"]})
    assert (
        client.get("/core4/api/login", {"username": "test", "password": "very secret"}).status_code
        == 401
    )
    assert (
        client.get("/core4/api/login", {"username": "test", "password": "new one"}).status_code
        == 200
    )


def test_role_cannot_get_email_or_password(api):
    role = _role(api, "plain")
    response = api.put(f"/roles/{role['_id']}", {"email": "p@example.com", "etag": role["etag"]})
    assert response.status_code == 400 and "requires email and password" in error_of(response)


def test_delete(api):
    created = api.post("/roles", USER).json()["data"]
    pk, etag = created["_id"], created["etag"]
    missing = api.delete(f"/roles/{pk}")
    assert missing.status_code == 400 and "Missing argument etag" in error_of(missing)
    stale = api.delete(f"/roles/{pk}?etag=000000000000000000000000")
    assert stale.status_code == 400 and "with etag" in error_of(stale)
    ok = api.delete(f"/roles/{pk}/{etag}")
    assert ok.status_code == 200 and ok.json()["data"] is True
    assert api.get(f"/roles/{pk}").status_code == 404
    again = api.delete(f"/roles/{pk}?etag={etag}")
    assert again.status_code == 404
    assert not User.objects.filter(pk=pk).exists()


@pytest.mark.parametrize("pk", ["000000000000000000000000", "nope", "x" * 500, "%00", "😀"])
def test_unknown_ids_are_404(api, pk):
    response = api.get(f"/roles/{pk}")
    assert response.status_code == 404
    assert "not found" in error_of(response)


def test_list_paging_sorting(api):
    for i in range(10):
        _role(api, f"role{i}", perm=[f"app://{i}"]) if i % 2 else api.post(
            "/roles", {"name": f"role{i}", "realname": f"Real {i}"}
        )
    response = api.get("/roles", {"per_page": 4, "sort": "realname", "order": -1})
    body = response.json()
    assert (body["page"], body["per_page"], body["total_count"], body["page_count"]) == (
        0,
        4,
        12,
        3,
    )
    assert body["count"] == 4
    seen = []
    for page in range(4):
        seen += [
            r["name"]
            for r in api.get(
                "/roles", {"per_page": 4, "page": page, "sort": "name", "order": -1}
            ).json()["data"]
        ]
    assert seen == sorted(seen, reverse=True) and len(seen) == 12
    last = api.get("/roles", {"per_page": 5, "page": -1, "sort": "name"}).json()
    assert last["page"] == 2 and last["count"] == 2
    past = api.get("/roles", {"page": 99}).json()
    assert past["count"] == 0 and past["data"] == [] and past["page"] == 99
    assert api.get("/roles", {"per_page": 0}).status_code == 400
    assert api.get("/roles", {"sort": "password"}).status_code == 400
    assert api.get("/roles", {"order": 2}).status_code == 400
    assert api.get("/roles", {"page": "x"}).status_code == 400


def test_list_filters(api):
    for name, realname in [
        ("lisa", "Lisa"),
        ("linus", "Linus"),
        ("bob", "Bob"),
        ("alice", "Alice"),
    ]:
        api.post("/roles", {"name": name, "realname": realname, "perm": [f"app://{name}"]})

    def total(flt):
        response = api.get("/roles", {"filter": flt})
        assert response.status_code == 200, response.json()
        return response.json()["total_count"]

    assert total('{"name": "admin"}') == 1
    assert total('{"name": {"$ne": "admin"}}') == 5
    assert total('{"name": {"$in": ["lisa", "bob"]}}') == 2
    assert total('{"name": {"$nin": ["lisa", "bob"]}}') == 4
    assert total('{"realname": {"$in": ["Li*"]}}') == 2  # core4: non-literal strings are regexes
    assert (
        total('{"$or": [{"name": "bob"}, {"realname": {"$regex": "^ali", "$options": "i"}}]}') == 2
    )
    # Linus, Alice and "admin user"
    assert total('{"$and": [{"realname": {"$regex": "i"}}, {"name": {"$ne": "lisa"}}]}') == 3
    assert total('{"perm": "app://bob"}') == 1
    assert total('{"role": "standard_user"}') == 0
    assert total('{"is_active": true}') == 6
    assert total("li") == 3  # free text over name, realname, perm: lisa, linus, alice
    for bad, phrase in [
        ('{"name": {"$where": "1"}}', "unknown filter operator [$where]"),
        ('{"$expr": {}}', "unknown filter operator [$expr]"),
        ('{"password": "x"}', "unknown filter field [password]"),
        ('{"name": {"$regex": "("}}', "invalid regular expression"),
        ('{"name": ', "Can not parse filter"),
        ('{"name": {"$in": "x"}}', "expects a list"),
        ('{"$or": 1}', "expects a list"),
    ]:
        response = api.get("/roles", {"filter": bad})
        assert response.status_code == 400, bad
        assert phrase in error_of(response), (bad, error_of(response))


def test_distinct_names(api):
    _role(api, "extra")
    assert api.get("/roles/distinct").json()["data"] == ["admin", "extra", "standard_user"]
