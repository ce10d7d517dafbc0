"""Channels middleware: authenticate a WebSocket from ``?token=``, the header or the cookie.

Puts ``user`` (or ``AnonymousUser``), ``token`` (the verified token or ``None``) and
``auth_error`` (why authentication failed, or ``None``) into the scope, so the consumer
can refuse the handshake with 4401/4403 and close the socket when the token expires.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import AuthenticationFailed

from accounts.tokens import COOKIE_NAME, verify_token


def _raw_token(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][-1]
    headers = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, credentials = auth.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    cookie = headers.get(b"cookie", b"").decode("latin-1")
    for part in cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE_NAME and value:
            return value
    return None


@database_sync_to_async
def _authenticate(raw: str):
    user, token = verify_token(raw)
    _ = user.access  # effective permissions, loaded once per connection
    return user, token


class TokenAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        scope = dict(scope, user=AnonymousUser(), token=None, auth_error=None)
        raw = _raw_token(scope)
        if raw is None:
            scope["auth_error"] = "missing token"
        else:
            try:
                scope["user"], scope["token"] = await _authenticate(raw)
            except AuthenticationFailed as exc:
                scope["auth_error"] = str(exc.detail)
        return await self.inner(scope, receive, send)
