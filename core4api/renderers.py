"""The core4 success envelope as a DRF renderer.

Views return plain data; this renderer wraps it as ``{"_id", "code", "message", "timestamp",
"version", "data"}`` (plus the pager's keys for paged replies, see ``pagination``), and
renders error responses of ``exceptions`` without ``data``.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus

from django.conf import settings
from rest_framework.renderers import JSONRenderer

from core4api.ids import isoformat, object_id, utcnow


class Core4JSONEncoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, datetime):
            return isoformat(o)
        if isinstance(o, date):
            return o.isoformat()
        if isinstance(o, timedelta):
            return o.total_seconds()
        if isinstance(o, Decimal):
            return float(o)
        if isinstance(o, (set, frozenset, tuple)):
            return list(o)
        return super().default(o)


def reason_phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Unknown"


def envelope(status_code: int, **fields) -> dict:
    body = {
        "_id": object_id(),
        "code": status_code,
        "message": reason_phrase(status_code),
        "timestamp": isoformat(utcnow()),
        "version": settings.CORE4_VERSION,
    }
    body.update(fields)
    return body


def dumps(payload) -> bytes:
    """UTF-8 JSON; text that has no UTF-8 form (a lone surrogate echoed in an error) is escaped."""
    text = json.dumps(payload, cls=Core4JSONEncoder, ensure_ascii=False, allow_nan=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(payload, cls=Core4JSONEncoder, allow_nan=False).encode()


class Core4JSONRenderer(JSONRenderer):
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is None:
            return dumps(data)
        if response.status_code >= 400 or getattr(response, "core4_error", False):
            extra = {}
            if isinstance(data, dict) and data.get("error"):
                extra["error"] = data["error"]
            return dumps(envelope(response.status_code, **extra))
        return dumps(
            envelope(response.status_code, data=data, **getattr(response, "core4_paging", {}))
        )
