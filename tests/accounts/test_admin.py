"""Django admin for users and roles: same validation as the API, etag bump on save."""

from accounts.models import Role, User


def test_admin_login_only_for_cop(client, admin, make_user):
    make_user("plain", perm=["api://core4.api.v1"])
    assert (
        client.post("/admin/login/", {"username": "plain", "password": "secret"}).status_code == 200
    )
    assert client.get("/admin/").status_code == 302  # not staff: back to the login page
    response = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": "hans"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200
    assert client.get("/admin/accounts/role/").status_code == 200


def test_role_form_refuses_bad_permission(client, admin):
    client.force_login(admin)
    response = client.post(
        "/admin/accounts/role/add/",
        {"name": "ops", "realname": "", "is_active": "on", "perm": "app://ok\nbla"},
    )
    assert response.status_code == 200
    assert "invalid permission protocol [bla]" in response.content.decode()
    assert not Role.objects.filter(name="ops").exists()


def test_role_form_refuses_bad_and_duplicate_names(client, admin):
    client.force_login(admin)
    for name, phrase in [("with space", "must match"), ("ADMIN", "name or email exists")]:
        response = client.post("/admin/accounts/role/add/", {"name": name, "perm": ""})
        assert phrase in response.content.decode()


def test_role_save_bumps_etag(client, admin):
    client.force_login(admin)
    response = client.post(
        "/admin/accounts/role/add/",
        {"name": "ops", "realname": "Ops", "is_active": "on", "perm": "app://ok\njob://a.*/r"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    role = Role.objects.get(name="ops")
    assert role.perm == ["app://ok", "job://a.*/r"]
    etag = role.etag
    response = client.post(
        f"/admin/accounts/role/{role.pk}/change/",
        {"name": "ops", "realname": "Operations", "is_active": "on", "perm": "app://ok"},
    )
    assert response.status_code == 302
    role.refresh_from_db()
    assert role.etag != etag and role.updated is not None and role.realname == "Operations"


def test_user_add_form_sets_password_and_validates_email(client, admin):
    client.force_login(admin)
    base = {"name": "newbie", "realname": "", "email": "bad", "is_active": "on", "perm": ""}
    response = client.post("/admin/accounts/user/add/", {**base, "new_password": "pw"})
    assert "field [email] must match" in response.content.decode()
    response = client.post("/admin/accounts/user/add/", {**base, "email": "n@example.com"})
    assert "a new user needs a password" in response.content.decode()
    response = client.post(
        "/admin/accounts/user/add/", {**base, "email": "N@Example.com", "new_password": "pw"}
    )
    assert response.status_code == 302
    user = User.objects.get(name="newbie")
    assert user.email == "n@example.com" and user.check_password("pw")


def test_role_list_does_not_show_users(client, admin):
    Role.objects.create(name="plain_role")
    client.force_login(admin)
    response = client.get("/admin/accounts/role/")
    names = [role.name for role in response.context["cl"].result_list]
    assert "plain_role" in names and "standard_user" in names and "admin" not in names
