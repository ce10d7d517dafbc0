"""OpenAPI helpers for core4's envelope, as drf-spectacular needs them.

drf-spectacular sees plain ``APIView`` s without serializers, and DRF would not know that
``core4api.renderers`` wraps every reply into core4's envelope. This module teaches it:

* :func:`envelope`, :func:`paged`, :data:`ERROR` — the real response shapes
  (``_id, code, message, timestamp, version, data``; paged keys at the top level, as the pager
  describes them; errors without ``data`` but with ``error``) around a schema of ``data``;
* :func:`component` — named schemas, added to ``components.schemas`` by :func:`add_components`
  (a post-processing hook);
* :class:`Core4AutoSchema` — JSON request bodies although the project has no DRF parsers
  (arguments are merged by ``core4api.arguments``), and the error responses every core4
  endpoint can give (400, 401, 403 unless public, 404 for paths with an id);
* :func:`query`, :func:`path`, :func:`body` and the common parameters.

Each app documents its own endpoints beside its views (``accounts/openapi.py``,
``events/openapi.py``, ``jobqueue/api/openapi.py``) with these helpers.
"""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import AllowAny

from core4api.limits import limit
from core4api.pagination import Core4Pager

COMPONENTS: dict[str, dict[str, Any]] = {}


def component(name: str, schema: dict[str, Any]) -> dict[str, str]:
    """Register ``schema`` as ``components.schemas[name]``; returns the ``$ref`` to it."""
    COMPONENTS[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


def add_components(result: dict, generator, request, public) -> dict:
    """Post-processing hook: the named schemas of :func:`component`, referenced or not."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in COMPONENTS.items():
        schemas.setdefault(name, schema)
    return result


# --- the envelope ---------------------------------------------------------------------------
_ENVELOPE_KEYS = {
    "_id": {"type": "string", "description": "request id (24 hex digits)"},
    "code": {"type": "integer", "description": "the HTTP status"},
    "message": {"type": "string", "description": "the standard reason phrase, e.g. OK"},
    "timestamp": {"type": "string", "description": "UTC ISO-8601 without offset"},
    "version": {"type": "string", "description": "project/version"},
}

ERROR = component(
    "Error",
    {
        "type": "object",
        "description": "core4's error envelope: no `data`; `error` says what is wrong.",
        "properties": {
            **_ENVELOPE_KEYS,
            "error": {"type": "string", "description": "what is wrong, in words"},
        },
        "required": ["_id", "code", "message", "timestamp"],
        "additionalProperties": False,
    },
)
ANY = {"description": "any JSON value"}


def envelope(data: dict[str, Any] | None = None, description: str = "") -> dict[str, Any]:
    """core4's success envelope with ``data`` described by ``data``."""
    schema = {
        "type": "object",
        "properties": {**_ENVELOPE_KEYS, "data": data if data is not None else ANY},
        "required": ["_id", "code", "message", "timestamp", "data"],
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def paged(item: dict[str, Any], description: str = "") -> dict[str, Any]:
    """core4's paged envelope: ``data`` is a list of ``item``, pager keys at the top."""
    schema = envelope({"type": "array", "items": item}, description)
    schema["properties"].update(Core4Pager.PAGING_SCHEMA)
    schema["required"] = [*schema["required"], *Core4Pager.PAGING_SCHEMA]
    return schema


SSE = {
    "type": "string",
    "description": "server-sent events: `event: <type>` / `data: <JSON>` frames separated by "
    "a blank line; types `state`, `log`, `close` (see the README, 'Server-sent events')",
}

ERROR_DESCRIPTIONS = {
    "400": "bad input (missing or invalid argument, state conflict); `error` names it",
    "401": "not authenticated (no, bad or expired credentials)",
    "403": "authenticated but not allowed (`api://` or `job://` permission)",
    "404": "unknown id",
    "503": "the listing's query took longer than `CORE4_API_QUERY_TIMEOUT`; narrow the filter",
}


# --- parameters -------------------------------------------------------------------------------
def query(name: str, kind: Any = str, description: str = "", **extra: Any) -> OpenApiParameter:
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, description=description, **extra)


def path(name: str, description: str = "") -> OpenApiParameter:
    return OpenApiParameter(name, str, OpenApiParameter.PATH, description=description)


PAGE = query("page", int, "0-based page; negative counts from the end")
PER_PAGE = query("per_page", int, "items per page (1…1000, default 10)")
FILTER = query(
    "filter",
    {"type": "string", "maxLength": limit("CORE4_FILTER_MAX_BYTES")},
    "MongoDB-style JSON object (`$ne $in $nin $regex $lt $lte $gt $gte $exists $and $or "
    "$nor`; regular expressions in RE2 syntax) or a free-text search; bounded by the "
    "`CORE4_FILTER_MAX_*` settings (a 400 names the one exceeded)",
)


def body(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON request body (for ``extend_schema(request=...)``); the same names are accepted
    in the query string (body wins)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {"application/json": schema}


# --- the AutoSchema ---------------------------------------------------------------------------
class Core4AutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with core4's request bodies and error responses."""

    def map_parsers(self):
        return ["application/json"]

    def _is_public(self) -> bool:
        return any(isinstance(permission, AllowAny) for permission in self.view.get_permissions())

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["400", "401"]
        if not self._is_public():
            codes.append("403")
        if "{" in self.path:
            codes.append("404")
        if getattr(self.view, "filter_backends", None):  # listings run under a query budget
            codes.append("503")
        for code in codes:
            responses.setdefault(
                code,
                {
                    "description": ERROR_DESCRIPTIONS[code],
                    "content": {"application/json": {"schema": ERROR}},
                },
            )
        return responses

    def get_operation_id(self) -> str:
        """Unique and readable: ``get_job_id`` for ``GET /core4/api/v1/job/{id}``."""
        trail = self.path.removeprefix("/core4/api/v1/").removeprefix("/core4/api/")
        words = [p.strip("{}") for p in trail.split("/") if p]
        if not self.path.startswith("/core4/api/v1/"):
            words.insert(0, "legacy")
        return "_".join([self.method.lower(), *words]).replace("-", "_")

    def get_tags(self) -> list[str]:
        parts = [p for p in self.path.removeprefix("/core4/api/v1/").split("/") if p]
        if self.path.startswith("/core4/api/login"):
            return ["login"]
        return [parts[0] if parts else "core4"]
