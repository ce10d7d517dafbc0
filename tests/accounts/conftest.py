import pytest

from accounts.models import Role, User
from tests.support import API, Api, error_of  # noqa: F401 - re-exported to the tests


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
