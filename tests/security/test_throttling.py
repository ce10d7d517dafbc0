"""Issue 10 item 11: password checks are throttled and cost the same for every name.

Every endpoint accepts ``username`` + ``password`` (and Basic auth), and each check runs the
password hasher (~0.3 s of CPU with PBKDF2): without a limit a few requests per second
saturate the server, and unlimited guesses find weak passwords. Limits per client address
(every password check) and per user name (failed checks) → 429 in core4's envelope with
``Retry-After``.
"""

from __future__ import annotations

import base64
import uuid

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

from accounts.tokens import issue_token
from tests.security.conftest import API


@pytest.fixture
def rates(settings):
    settings.CORE4_PASSWORD_RATE_ADDRESS = "4/min"
    settings.CORE4_PASSWORD_RATE_USER = "2/min"
    return settings


def _address() -> str:
    """A client address of this test alone (the cache may be a shared Redis)."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


def _name() -> str:
    return f"nobody-{uuid.uuid4().hex[:12]}"


def _profile(address: str, username: str, password: str, **extra):
    return Client(REMOTE_ADDR=address).get(
        f"{API}/profile", {"username": username, "password": password}, **extra
    )


@pytest.fixture
def someone(make_user):
    """A user of this test alone, password ``secret`` (the cache may outlive the test)."""
    return make_user(_name(), perm=["api://core4.api.v1.request.standard.*"]).name


def _throttled(response) -> str:
    body = response.json()
    assert response.status_code == body["code"] == 429, body
    assert body["message"] == "Too Many Requests"
    assert int(response["Retry-After"]) >= 1
    return body["error"]


def test_password_checks_per_address_are_limited(rates, someone):
    address = _address()
    for _ in range(4):
        assert _profile(address, _name(), "guess").status_code == 401
    error = _throttled(_profile(address, _name(), "guess"))
    assert "address" in error
    # even the right password waits: the check itself is what costs
    _throttled(_profile(address, someone, "secret"))
    # another address is not concerned
    assert _profile(_address(), someone, "secret").status_code == 200


def test_failed_checks_per_user_are_limited(rates, someone):
    for _ in range(2):
        assert _profile(_address(), someone, "wrong").status_code == 401
    error = _throttled(_profile(_address(), someone.upper(), "secret"))  # case-insensitive
    assert "user" in error


def test_successful_checks_do_not_count_for_the_user(rates, someone):
    for _ in range(3):
        assert _profile(_address(), someone, "secret").status_code == 200


def test_basic_auth_and_login_are_limited_too(rates, someone):
    address = _address()
    client = Client(REMOTE_ADDR=address)
    basic = "Basic " + base64.b64encode(f"{_name()}:x".encode()).decode()
    for _ in range(2):
        assert client.get(f"{API}/profile", HTTP_AUTHORIZATION=basic).status_code == 401
        assert (
            client.post(
                f"{API}/login",
                {"username": _name(), "password": "x"},
                content_type="application/json",
            ).status_code
            == 401
        )
    _throttled(client.get(f"{API}/login", {"username": someone, "password": "secret"}))


def test_tokens_are_not_limited(rates, admin):
    address = _address()
    for _ in range(5):
        _profile(address, _name(), "guess")
    token = str(issue_token(admin))
    client = Client(REMOTE_ADDR=address)
    assert client.get(f"{API}/profile", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


class CountingHasher(MD5PasswordHasher):
    """MD5 (the suite's fast hasher) that counts how often it hashes."""

    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


@pytest.fixture
def counting(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.calls = 0
    return CountingHasher


def test_every_check_costs_one_hash_whoever_the_user(counting, make_user):
    make_user("known")
    make_user("asleep", is_active=False)
    unusable = make_user("nopassword")
    unusable.set_unusable_password()
    unusable.save()
    cases = [
        ("known", "wrong"),
        ("asleep", "secret"),
        ("nopassword", "anything"),
        (_name(), "anything"),
    ]
    for username, password in cases:
        counting.calls = 0
        assert authenticate(None, username=username, password=password) is None
        assert counting.calls == 1, username
