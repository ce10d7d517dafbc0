"""Fixtures of the security tests: the admin, users on demand, a cookie-only client."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.tokens import COOKIE_NAME, issue_token
from tests.accounts.conftest import admin  # noqa: F401 - fixture

API = "/core4/api/v1"
FOREIGN = "http://127.0.0.1:9999"
OWN = "http://testserver"  # the Django test client's origin


@pytest.fixture
def cookie_client(admin):  # noqa: F811 - the fixture imported above
    """A client holding nothing but the admin's token cookie (what a browser sends)."""
    client = Client()
    client.cookies[COOKIE_NAME] = str(issue_token(admin))
    return client
