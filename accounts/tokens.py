"""JWTs on simplejwt: issue, verify, refresh, and the ``token`` cookie.

Claims: simplejwt's (``user_id``, ``exp``, ``iat``, ``jti``, ``token_type``) plus core4's
``name`` and ``timestamp`` and the session's ``login`` and ``gen`` (:mod:`accounts.sessions`).
Every verification loads the user, so a deleted or deactivated user, a stale generation or a
session past ``CORE4_SESSION_MAX`` loses access at once (a core4 quirk fixed).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts.sessions import session_claims, session_problem

COOKIE_NAME = "token"
HEADER_NAME = "token"
MAX_TOKEN_LENGTH = 4096


def issue_token(user, previous: AccessToken | None = None) -> AccessToken:
    """A token for ``user``: a new session, or continuing ``previous``'s (a renewal)."""
    token = AccessToken.for_user(user)
    claims, lifetime = session_claims(user, previous)
    token.set_exp(lifetime=timedelta(seconds=lifetime))
    for claim, value in claims.items():
        token[claim] = value
    token["name"] = user.name
    token["timestamp"] = time.time()
    return token


def verify_token(raw: object):
    """Return ``(user, token)`` for a valid token of a live session, else raise 401."""
    from accounts.models import User

    if not isinstance(raw, str) or not raw or len(raw) > MAX_TOKEN_LENGTH:
        raise AuthenticationFailed("invalid token")
    try:
        token = AccessToken(raw)
    except TokenError as exc:
        raise AuthenticationFailed(f"invalid token: {exc}") from exc
    user_id = token.get("user_id")
    user = User.objects.filter(pk=user_id).first() if isinstance(user_id, str) else None
    problem = session_problem(user, token)
    if problem is not None:
        raise AuthenticationFailed(problem)
    return user, token


def token_expires(token: AccessToken | None) -> datetime | None:
    if token is None or "exp" not in token:
        return None
    return datetime.fromtimestamp(token["exp"], UTC)


def needs_refresh(token: AccessToken) -> bool:
    issued = token.get("timestamp", token.get("iat", 0))
    return time.time() - float(issued) > settings.CORE4_TOKEN_REFRESH


def set_token_cookie(response, token: AccessToken | str, request) -> None:
    response.set_cookie(
        COOKIE_NAME,
        str(token),
        max_age=settings.CORE4_TOKEN_EXPIRATION,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure() or settings.CORE4_HTTPS,
        path="/",
    )
