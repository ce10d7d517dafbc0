"""JWTs on simplejwt: issue, verify, refresh, and the ``token`` cookie.

Claims: simplejwt's (``user_id``, ``exp``, ``iat``, ``jti``, ``token_type``) plus core4's
``name`` and ``timestamp``. Every verification loads the user, so a deleted or deactivated
user loses access at once (a core4 quirk fixed).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

COOKIE_NAME = "token"
HEADER_NAME = "token"
MAX_TOKEN_LENGTH = 4096


def issue_token(user) -> AccessToken:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=settings.CORE4_TOKEN_EXPIRATION))
    token["name"] = user.name
    token["timestamp"] = time.time()
    return token


def verify_token(raw: object):
    """Return ``(user, token)`` for a valid token of an active user, else raise 401."""
    from accounts.models import User

    if not isinstance(raw, str) or not raw or len(raw) > MAX_TOKEN_LENGTH:
        raise AuthenticationFailed("invalid token")
    try:
        token = AccessToken(raw)
    except TokenError as exc:
        raise AuthenticationFailed(f"invalid token: {exc}") from exc
    user_id = token.get("user_id")
    user = User.objects.filter(pk=user_id).first() if isinstance(user_id, str) else None
    if user is None:
        raise AuthenticationFailed("user not found")
    if not user.is_active:
        raise AuthenticationFailed("user is inactive")
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
