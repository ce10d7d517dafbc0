"""Suite-wide fixtures: fast password hashing, a real channel layer, users and live stacks.

The channel layer is always a real Redis: the one of ``REDIS_URL`` (with a prefix of its
own per run), or — on the embedded default — a private ``redis-server`` started for the
session, exactly as the product runs it.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings

from tests import support
from tests.support import LiveStack, TestRedis

# Subprocesses (daphne, workers, CLI) read this from the environment.
os.environ["CORE4_FAST_PASSWORD_HASHER"] = "1"
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The suite logs in by password from one address far more often than people do;
# tests/security/test_throttling.py sets the limits it tests.
for _rate in ("CORE4_PASSWORD_RATE_ADDRESS", "CORE4_PASSWORD_RATE_USER"):
    os.environ[_rate] = "off"
    setattr(settings, _rate, "off")


@pytest.fixture(scope="session", autouse=True)
def _fast_hashers():
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()
    yield


@pytest.fixture(scope="session")
def test_redis(tmp_path_factory):
    """A real Redis for the session: REDIS_URL's, or a private embedded server."""
    redis = TestRedis(tmp_path_factory.mktemp("redis"))
    yield redis
    redis.stop()


@pytest.fixture(scope="session", autouse=True)
def _channel_layer(test_redis):
    from channels.layers import channel_layers

    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    config["hosts"] = [{"address": test_redis.address, "socket_timeout": None}]
    config["prefix"] = f"core4test-{uuid.uuid4().hex[:8]}"
    channel_layers.backends.clear()
    yield


@pytest.fixture
def make_user(db):
    """``make_user(name, perm=(), roles=(), password="secret", email=None, **fields)`` → a
    saved ``User`` (:func:`tests.support.make_user`)."""
    return support.make_user


@pytest.fixture
def live_stack(tmp_path, test_redis):
    """A fresh database, migrated, with daphne/worker/CLI processes on demand."""
    stack = LiveStack(tmp_path, test_redis)
    try:
        yield stack
    finally:
        stack.stop()
