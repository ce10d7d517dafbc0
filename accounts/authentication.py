"""Where credentials come from, in core4's order, as DRF authentication classes.

1. ``Authorization`` header: ``Bearer <jwt>`` or ``Basic <user:password>``;
2. a ``token`` argument (query string or JSON body);
3. ``username`` + ``password`` arguments;
4. the ``token`` cookie — for unsafe methods only from an allowed origin
   (``accounts.origin``: another site can make a browser send the cookie, not a token).

The first source present decides: a bad token there is a 401, not a fall-through. Token
authentication older than the refresh interval hands a fresh token to
``accounts.middleware.TokenRefreshMiddleware``, which sends it as the ``token`` header.
"""

from __future__ import annotations

import base64
import binascii

from django.contrib.auth import authenticate
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied

from accounts import origin
from accounts.throttling import PasswordAttempt
from accounts.tokens import COOKIE_NAME, issue_token, needs_refresh, verify_token
from core4api.arguments import arguments

REFRESH_ATTR = "core4_refreshed_token"
SOURCE_ATTR = "core4_auth_source"


class _Core4Authentication(BaseAuthentication):
    source = ""

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="core4"'

    def _with_token(self, request, raw):
        user, token = verify_token(raw)
        django_request = request._request
        if needs_refresh(token):
            setattr(django_request, REFRESH_ATTR, issue_token(user, previous=token))
        setattr(django_request, SOURCE_ATTR, self.source)
        return user, token

    def _with_password(self, request, username, password):
        attempt = PasswordAttempt(request._request, username)
        attempt.check()  # 429 before the (deliberately slow) hasher runs
        user = authenticate(request._request, username=username, password=password)
        if user is None:
            attempt.failed()
            raise AuthenticationFailed("wrong username or password, or user inactive")
        setattr(request._request, SOURCE_ATTR, "password")
        return user, None


class HeaderAuthentication(_Core4Authentication):
    source = "header"

    def authenticate(self, request):
        header = get_authorization_header(request)
        if not header:
            return None
        try:
            scheme, _, credentials = header.decode("latin-1").partition(" ")
        except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes any byte
            raise AuthenticationFailed("invalid Authorization header") from exc
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "bearer":
            return self._with_token(request, credentials)
        if scheme == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
                raise AuthenticationFailed("invalid basic credentials") from exc
            username, sep, password = decoded.partition(":")
            if not sep:
                raise AuthenticationFailed("invalid basic credentials")
            return self._with_password(request, username, password)
        raise AuthenticationFailed("unsupported Authorization scheme, use Bearer or Basic")


class TokenArgumentAuthentication(_Core4Authentication):
    source = "argument"

    def authenticate(self, request):
        raw = arguments(request).get("token")
        if raw is None:
            return None
        return self._with_token(request, raw)


class PasswordArgumentAuthentication(_Core4Authentication):
    def authenticate(self, request):
        args = arguments(request)
        username, password = args.get("username"), args.get("password")
        if username is None or password is None:
            return None
        if not isinstance(username, str) or not isinstance(password, str):
            raise AuthenticationFailed("username and password must be strings")
        return self._with_password(request, username, password)


class CookieAuthentication(_Core4Authentication):
    """The cookie, for writes only from an allowed origin (``accounts.origin``): → 403."""

    source = "cookie"

    def authenticate(self, request):
        raw = request._request.COOKIES.get(COOKIE_NAME)
        if not raw:
            return None
        refused = origin.refusal(request._request)
        if refused:
            raise PermissionDenied(refused)
        return self._with_token(request, raw)
