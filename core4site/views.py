"""``GET /core4/api/v1/``: the API's front page — what there is and where it is described.

Public, like the OpenAPI schema it is made from: it lists paths, methods and one-line
summaries, nothing a visitor could not read in ``/core4/api/v1/schema/`` anyway, and it is
where someone who has no token yet looks for the login.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from core4api.openapi import component, envelope
from core4api.views import Core4APIView

API = "/core4/api/v1/"
METHODS = ("get", "post", "put", "patch", "delete")

#: What the OpenAPI schema cannot describe.
WEBSOCKET = {
    "path": API + "event",
    "methods": ["WEBSOCKET"],
    "summary": "The live event stream (interest, chat, resume with `since`, queue summaries)",
    "tag": "event",
}


@lru_cache(maxsize=1)
def endpoints() -> tuple[dict[str, Any], ...]:
    """Every documented operation of the schema, one item per path (built once per process)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    items = []
    for route, operations in schema["paths"].items():
        methods = [m for m in METHODS if m in operations]
        if not methods:
            continue
        first = operations[methods[0]]
        items.append({
            "path": route,
            "methods": [m.upper() for m in methods],
            "summary": first.get("summary", ""),
            "tag": (first.get("tags") or [""])[0],
        })  # fmt: skip
    items.append(WEBSOCKET)
    return tuple(sorted(items, key=lambda item: item["path"]))


ENDPOINT = component(
    "ApiEndpoint",
    {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "`{name}` marks a path parameter"},
            "methods": {"type": "array", "items": {"type": "string"}},
            "summary": {"type": "string"},
            "tag": {"type": "string", "description": "the group in the interactive reference"},
        },
        "required": ["path", "methods", "summary", "tag"],
        "additionalProperties": False,
    },
)
ROOT = component(
    "ApiRoot",
    {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "login": {"type": "string", "description": "where to get a token"},
            "reference": {
                "type": "object",
                "description": "the OpenAPI schema (YAML; `?format=json`), Swagger UI, Redoc",
                "properties": {k: {"type": "string"} for k in ("schema", "swagger", "redoc")},
                "required": ["schema", "swagger", "redoc"],
                "additionalProperties": False,
            },
            "endpoints": {"type": "array", "items": ENDPOINT},
        },
        "required": ["name", "version", "login", "reference", "endpoints"],
        "additionalProperties": False,
    },
)


@extend_schema_view(
    get=extend_schema(
        summary="The API's front page: every endpoint, and links to the interactive reference",
        description="Public. `data.endpoints` lists each path with its methods and summary "
        "(from this schema, plus the WebSocket `/core4/api/v1/event`); `data.reference` links "
        "the schema, Swagger UI and Redoc.",
        tags=["core4"],
        responses={200: envelope(ROOT)},
    )
)
class ApiRootView(Core4APIView):
    permission_classes = [AllowAny]

    def get(self, request, *args, **kwargs):
        return Response({
            "name": settings.SPECTACULAR_SETTINGS["TITLE"],
            "version": settings.CORE4_VERSION,
            "login": API + "login",
            "reference": {
                "schema": API + "schema/",
                "swagger": API + "schema/swagger/",
                "redoc": API + "schema/redoc/",
            },
            "endpoints": list(endpoints()),
        })  # fmt: skip
