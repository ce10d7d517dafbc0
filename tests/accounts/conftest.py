import pytest

from tests.support import API, Api, error_of  # noqa: F401 - re-exported to the tests


@pytest.fixture
def admin(make_user):
    return make_user("admin", ["cop"], password="hans", realname="admin user")


@pytest.fixture
def api(client, admin):
    """Logged in as admin."""
    return Api(client).login()


@pytest.fixture
def anon(client, db):
    return Api(client)
