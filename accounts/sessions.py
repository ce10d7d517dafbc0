"""Sessions: how long a login lasts and what ends it.

A *session* starts with a password login and lives in the tokens issued for it:

* ``login`` — when the password login happened (epoch seconds). A token renewed with
  ``GET /login`` or the refresh header carries its predecessor's ``login``, and no token
  outlives ``login + CORE4_SESSION_MAX``: refreshing cannot extend a session for ever.
* ``gen`` — the user's ``token_generation`` when the token was issued. Bumping the
  generation (:func:`accounts.revocation.bump_generation`: a password change, deactivation,
  "log out everywhere") makes every earlier token stale: 401 on the next request, 4401 on
  open sockets.

Tokens from before these claims existed count as generation 0 and as logged in at ``iat``.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

LOGIN_CLAIM = "login"
GENERATION_CLAIM = "gen"
CURRENT_PASSWORD = "current_password"


def session_start(token) -> float:
    """When the session of ``token`` began with a password login (epoch seconds)."""
    value = token.get(LOGIN_CLAIM, token.get("iat", 0))
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def session_claims(user, previous=None) -> tuple[dict[str, Any], float]:
    """The session claims of a new token for ``user`` (continuing ``previous``'s session) and
    the lifetime it may have at most (seconds, ≥ 0)."""
    now = time.time()
    login = now if previous is None else session_start(previous)
    remaining = login + settings.CORE4_SESSION_MAX - now
    lifetime = max(0.0, min(float(settings.CORE4_TOKEN_EXPIRATION), remaining))
    claims = {LOGIN_CLAIM: login, GENERATION_CLAIM: int(getattr(user, "token_generation", 0))}
    return claims, lifetime


def session_problem(user, token=None) -> str | None:
    """Why ``user`` (with ``token``, if any) may no longer act, in words; ``None`` if it may."""
    if user is None:
        return "user not found"
    if not user.is_active:
        return "user is inactive"
    if token is None:  # a password credential: checked afresh on each request
        return None
    generation = token.get(GENERATION_CLAIM, 0)
    if generation != getattr(user, "token_generation", 0):
        return "session revoked: log in again"
    if time.time() >= session_start(token) + settings.CORE4_SESSION_MAX:
        return "session expired: log in again"
    return None


def wants_new_password(value: Any) -> bool:
    """Does a profile change set a password (``accounts.principals`` ignores None and "")?"""
    return value is not None and value != "" and isinstance(value, str)


def check_current_password(user, current: Any) -> None:
    """A password change through the profile must prove the current one (400 / 403)."""
    # the API's errors, imported here: this module is loaded by every process that loads
    # the accounts app (a worker and its job processes too), which need no REST framework
    from core4api.exceptions import BadRequest, Forbidden

    if not isinstance(current, str) or not current:
        raise BadRequest(
            f"changing the password needs the current password in [{CURRENT_PASSWORD}]"
        )
    if not user.check_password(current):
        raise Forbidden("the current password is wrong")
