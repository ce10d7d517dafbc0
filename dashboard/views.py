"""The dashboard page, its login page, and the access check the page asks for.

The page itself holds no data: it is static HTML + ES modules that call the public APIs
(``/core4/api/v1/…``) and the event socket with the HttpOnly ``token`` cookie that the login
API sets, plus the server's vocabulary (states, event names, handler names) as JSON
(``dashboard.bootstrap``). The views here only decide whether to show the page or the login
form.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.api_permissions import access_of
from accounts.tokens import COOKIE_NAME, verify_token
from core4api.arguments import argument
from core4api.views import Core4APIView
from dashboard.access import describe
from dashboard.bootstrap import ELEMENT_ID, bootstrap

#: Scripts, styles and connections from this origin only; data never becomes markup.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' {ws}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _signed_in(request: HttpRequest) -> bool:
    try:
        verify_token(request.COOKIES.get(COOKIE_NAME))
    except AuthenticationFailed:
        return False
    return True


def _page(request: HttpRequest, template: str, context: dict | None = None) -> HttpResponse:
    response = render(request, template, context)
    scheme = "wss" if request.is_secure() else "ws"
    response["Content-Security-Policy"] = CSP.format(ws=f"{scheme}://{request.get_host()}")
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    return response


def _next(request: HttpRequest) -> str:
    target = request.GET.get("next", "/")
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return "/"
    return target


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The dashboard, or a redirect to the login page without a valid token cookie."""
    if not _signed_in(request):
        return HttpResponseRedirect("/login?" + urlencode({"next": request.get_full_path()}))
    return _page(
        request,
        "dashboard/index.html",
        {"bootstrap": bootstrap(), "bootstrap_id": ELEMENT_ID},
    )


@require_GET
def login(request: HttpRequest) -> HttpResponse:
    """The login form; it posts to the login API, which sets the cookie."""
    if _signed_in(request):
        return HttpResponseRedirect(_next(request))
    return _page(request, "dashboard/login.html")


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Clears the cookie for users who may not call the logout API (no standard_user role)."""
    response = HttpResponseRedirect("/login")
    response.delete_cookie(COOKIE_NAME, path="/", samesite="Lax")
    return response


class AccessView(Core4APIView):
    """``GET /dashboard/access?names=[…]``: which APIs and which jobs the user may use."""

    permission_classes = [IsAuthenticated]
    schema = None  # not part of core4's API

    def get(self, request) -> Response:
        names = argument(request, "names", [], list)
        names = [name for name in names if isinstance(name, str)]
        data = describe(access_of(request.user), names)
        data["user"] = request.user.name
        return Response(data)
