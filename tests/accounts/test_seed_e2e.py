"""The seed session's first steps against a real daphne, unchanged apart from host and port."""

import pytest
from requests import get, post

pytestmark = pytest.mark.e2e


def test_seed_login_and_user_creation(live_stack):
    base = live_stack.start_daphne()

    login = get(f"{base}/core4/api/login?username=admin&password=hans")
    token = login.json()["data"]["token"]

    rv = post(
        f"{base}/core4/api/v1/roles",
        headers={"Authorization": "Bearer " + token},
        json={
            "name": "test",
            "realname": "Test User",
            "email": "test@plan-net.com",
            "password": "very secret",
            "role": ["standard_user"],
            "perm": ["api://core4.api.v1.request.queue.history.*"],
        },
    )
    assert rv.status_code == 200
    etag = rv.json()["data"]["etag"]
    assert len(etag) == 24

    user_login = get(f"{base}/core4/api/login?username=test&password=very secret")
    assert user_login.status_code == 200
    user_token = user_login.json()["data"]["token"]
    assert user_login.headers["token"] == user_token

    profile = get(f"{base}/core4/api/v1/profile?token=" + user_token).json()
    assert profile["data"]["name"] == "test"
    assert "api://core4.api.v1.request.standard.*" in profile["data"]["perm_total"]
    # the standard user may not manage roles
    assert get(f"{base}/core4/api/v1/roles?token=" + user_token).status_code == 403
