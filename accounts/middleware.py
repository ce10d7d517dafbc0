"""Sends the refreshed token chosen by ``accounts.authentication`` with the response.

The cookie is renewed only for requests that came with the cookie: a token argument in a
link must not plant a cookie in the browser that follows it (login CSRF).
"""

from __future__ import annotations

from accounts.authentication import REFRESH_ATTR, SOURCE_ATTR
from accounts.tokens import HEADER_NAME, set_token_cookie


class TokenRefreshMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        token = getattr(request, REFRESH_ATTR, None)
        if token is not None and response.status_code < 400:
            response[HEADER_NAME] = str(token)
            if getattr(request, SOURCE_ATTR, None) == "cookie":
                set_token_cookie(response, token, request)
        return response
