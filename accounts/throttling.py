"""Limits on password checks (README "Throttling").

Every endpoint accepts ``username`` + ``password`` (and Basic auth), and each check runs the
password hasher — deliberately slow. Two DRF rate throttles on Django's cache bound them:

* per client address, every password check (``CORE4_PASSWORD_RATE_ADDRESS``): the CPU;
* per user name, failed checks (``CORE4_PASSWORD_RATE_USER``): guessing one account from
  many addresses.

They run inside authentication, before the hasher (DRF's view throttles run after it). Over a
limit the answer is 429 with ``Retry-After``, even for the right password. The client address
is ``REMOTE_ADDR``; ``X-Forwarded-For`` counts only behind ``CORE4_NUM_PROXIES`` proxies.
"""

from __future__ import annotations

import hashlib
import math

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


class _PasswordThrottle(SimpleRateThrottle):
    """A rate throttle on one identity whose rate is read from settings at each use."""

    setting = ""
    what = ""

    def __init__(self, ident: str):
        self.ident = ident
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.cache_format % {"scope": self.scope, "ident": ident}

    def get_rate(self) -> str | None:
        rate = getattr(settings, self.setting, None)
        return rate if rate and str(rate).lower() not in ("off", "none", "0") else None

    def get_cache_key(self, request, view) -> str:
        return self.key

    def _load(self) -> None:
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]

    def wait_time(self) -> int | None:
        """Seconds until a check is allowed again, ``None`` if it is allowed now."""
        if self.rate is None:
            return None
        self._load()
        if len(self.history) < self.num_requests:
            return None
        return max(1, math.ceil(self.wait() or 1))

    def record(self) -> None:
        if self.rate is None:
            return
        self._load()
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history[: self.num_requests + 1], self.duration)


class AddressThrottle(_PasswordThrottle):
    scope = "password_address"
    setting = "CORE4_PASSWORD_RATE_ADDRESS"
    what = "from this address"


class UserThrottle(_PasswordThrottle):
    scope = "password_user"
    setting = "CORE4_PASSWORD_RATE_USER"
    what = "for this user"


def _user_ident(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]


class PasswordAttempt:
    """One password check: ``check()`` before the hasher, ``failed()`` after a wrong one."""

    def __init__(self, request, username: str):
        address = BaseThrottle().get_ident(request) or "unknown"
        self.address = AddressThrottle(address)
        self.user = UserThrottle(_user_ident(username))

    def check(self) -> None:
        """Raise 429 if either limit is reached; else count the check for the address."""
        for throttle in (self.address, self.user):
            wait = throttle.wait_time()
            if wait is not None:
                raise Throttled(
                    wait=wait,
                    detail=(
                        f"too many password attempts {throttle.what} (log in once and send "
                        "the token instead of the password with every request)."
                    ),
                )
        self.address.record()

    def failed(self) -> None:
        self.user.record()
