"""Cookie authentication is same-origin only (README "Cookies, CSRF and Origin").

A browser attaches the ``token`` cookie to every request to this server, including those
another site makes it send (a form, an image, ``fetch`` with ``mode: "no-cors"``). So a write
authenticated by the cookie alone, and every WebSocket handshake, must come from an allowed
origin: ``CORE4_ALLOWED_ORIGINS`` if set, else the server's own origin. Origins are compared
exactly — scheme, host and port — after normalising case and default ports.

Browsers send ``Origin`` with every unsafe request and every WebSocket handshake; the
``Referer``'s origin stands in where a browser omits ``Origin``. Clients that send the token
themselves (header, argument) are not concerned: another site cannot make a browser do that.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize(url: object) -> str | None:
    """``scheme://host[:port]`` of an origin or URL, lower-cased, default port dropped.

    ``None`` for anything that is not an http(s) origin (``null``, ``file://``, garbage).
    """
    if not isinstance(url, str) or not url or len(url) > 2048:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def allowed_origins(own: str | None) -> set[str]:
    """``CORE4_ALLOWED_ORIGINS`` (replacing the default) or the server's own origin."""
    configured = getattr(settings, "CORE4_ALLOWED_ORIGINS", None) or []
    candidates = configured if configured else [own]
    return {origin for origin in map(normalize, candidates) if origin}


def request_origin(request) -> str | None:
    """The origin a browser claims for ``request``: ``Origin``, else the ``Referer``'s."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin is not None:
        return normalize(origin) or "null"
    referer = request.META.get("HTTP_REFERER")
    if referer is not None:
        return normalize(referer) or "null"
    return None


def own_origin(request) -> str:
    """This server's origin as the client addressed it (``get_host`` checks ALLOWED_HOSTS)."""
    return f"{request.scheme}://{request.get_host()}"


def refusal(request) -> str | None:
    """Why an unsafe request authenticated by the cookie alone is refused; ``None`` if fine."""
    if request.method.upper() in SAFE_METHODS:
        return None
    origin = request_origin(request)
    if origin is None:
        return "cookie authentication needs an Origin or Referer header on writes"
    if origin not in allowed_origins(own_origin(request)):
        return f"cross-origin request refused: origin [{origin[:100]}] is not allowed"
    return None


def may_set_cookie(request) -> bool:
    """A login may set the cookie unless a browser says another site sent it (login CSRF)."""
    origin = request_origin(request)
    return origin is None or origin in allowed_origins(own_origin(request))


# --- WebSocket ----------------------------------------------------------------------------
def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _own_socket_origin(scope) -> str | None:
    host = _header(scope, b"host")
    if not host:
        return None
    domain, _ = split_domain_port(host)
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    if not domain or not validate_host(domain, allowed):
        return None
    secure = scope.get("scheme") in ("wss", "https") or settings.CORE4_HTTPS
    return f"{'https' if secure else 'http'}://{host}"


def socket_origin_allowed(scope) -> bool:
    """Exact match of the handshake's ``Origin``; a missing one is a non-browser client."""
    origin = _header(scope, b"origin")
    if origin is None:
        return True  # browsers always send Origin on a WebSocket handshake
    normalized = normalize(origin)
    return normalized is not None and normalized in allowed_origins(_own_socket_origin(scope))


class WebSocketOriginValidator:
    """ASGI middleware: refuse WebSocket handshakes from origins that are not allowed."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not socket_origin_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)
