"""Errors raised outside DRF views (unknown URLs, crashes) in core4's envelope."""

from __future__ import annotations

from django.http import HttpResponse

from core4api.renderers import dumps, envelope


def _reply(status: int, error: str | None) -> HttpResponse:
    body = envelope(status, **({"error": error} if error else {}))
    return HttpResponse(dumps(body), status=status, content_type="application/json")


def not_found(request, exception=None) -> HttpResponse:
    return _reply(404, f"no such resource [{request.path[:200]}]")


def server_error(request) -> HttpResponse:
    return _reply(500, "internal error")


def bad_request(request, exception=None) -> HttpResponse:
    return _reply(400, str(exception) if exception else "bad request")


def forbidden(request, exception=None) -> HttpResponse:
    return _reply(403, "Forbidden")
