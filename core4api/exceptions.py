"""The core4 error envelope as DRF exceptions and DRF's exception handler.

Every error a client can cause ends here as ``{"_id", "code", "message", "timestamp",
"error"}`` (no ``data``) with the standard reason phrase in ``message`` and what is wrong,
in words, in ``error``. Unexpected exceptions become a 500 envelope and are logged; they never
leak a Django HTML page to an API client.
"""

from __future__ import annotations

import logging

from django.core.exceptions import (
    ObjectDoesNotExist,
    RequestDataTooBig,
    TooManyFieldsSent,
    ValidationError,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

log = logging.getLogger(__name__)


class Core4Error(exceptions.APIException):
    """An error with core4's status code and a message in words."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, error: str):
        super().__init__(detail=error)
        self.error = error


class BadRequest(Core4Error):
    status_code = status.HTTP_400_BAD_REQUEST


class NotFound(Core4Error):
    status_code = status.HTTP_404_NOT_FOUND


class Forbidden(Core4Error):
    status_code = status.HTTP_403_FORBIDDEN


class Unauthorized(Core4Error):
    status_code = status.HTTP_401_UNAUTHORIZED


def _detail_text(detail) -> str:
    """Flatten DRF's nested ``detail`` into one readable line."""
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_detail_text(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_detail_text(item) for item in detail)
    return str(detail)


def error_response(status_code: int, error: str | None, headers: dict | None = None) -> Response:
    response = Response({"error": error} if error else {}, status=status_code, headers=headers)
    response.core4_error = True  # type: ignore[attr-defined]  # read by the renderer
    return response


def core4_exception_handler(exc, context) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, Core4Error):
        return error_response(exc.status_code, exc.error)
    if isinstance(exc, ValidationError):
        return error_response(400, "; ".join(str(m) for m in exc.messages))
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        return error_response(404, (exc.args[0] if exc.args else "") or "Not Found")
    if isinstance(exc, DjangoPermissionDenied):
        return error_response(403, str(exc) or "Forbidden")
    if isinstance(exc, DataError):  # a value the database refuses (NUL byte, overflow, …)
        return error_response(400, f"invalid value: {str(exc).splitlines()[0][:200]}")
    if isinstance(exc, UnicodeEncodeError) and "surrogate" in str(exc.reason):
        # input text that is no text (a lone surrogate from JSON) reached the database driver
        return error_response(400, "invalid text: lone surrogates are not allowed")
    if isinstance(exc, (RequestDataTooBig, TooManyFieldsSent)):
        return error_response(400, f"request too large: {exc}")
    if isinstance(exc, exceptions.APIException):
        if auth_header := getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = auth_header
        if wait := getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(wait))
        return error_response(exc.status_code, _detail_text(exc.detail), headers)
    view = context.get("view")
    log.exception("unhandled error in %s", type(view).__name__ if view else "view", exc_info=exc)
    return error_response(500, f"{type(exc).__name__}: internal error")
