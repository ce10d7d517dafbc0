"""The OpenAPI 3 schema of every REST endpoint, as drf-spectacular builds it, made truthful.

drf-spectacular sees plain ``APIView`` s without serializers, and DRF would not know that
``core4site.api.renderers`` wraps every reply into core4's envelope. This module teaches it:

* :func:`envelope`, :func:`paged`, :data:`ERROR` — the real response shapes
  (``_id, code, message, timestamp, version, data``; paged keys at the top level; errors
  without ``data`` but with ``error``) around a schema of ``data``;
* :func:`component` — named schemas, added to ``components.schemas`` by :func:`add_components`
  (a post-processing hook);
* :class:`Core4AutoSchema` — JSON request bodies although the project has no DRF parsers
  (arguments are merged by ``core4site.api.arguments``), and the error responses every core4
  endpoint can give (400, 401, 403 unless public, 404 for paths with an id);
* extensions that describe the token sources of ``accounts.authentication`` and, by dotted
  path, the views of ``accounts`` and ``events`` (so those apps need not import this module).

Served at ``/core4/api/v1/schema/`` (``?format=json`` for JSON), Swagger UI at
``/core4/api/v1/schema/swagger/`` and Redoc at ``/core4/api/v1/schema/redoc/``, both from the
``drf-spectacular-sidecar`` package (no CDN).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny

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
_PAGER_KEYS = {
    "page": {"type": "integer", "description": "0-based page (negative counts from the end)"},
    "per_page": {"type": "integer", "minimum": 1},
    "page_count": {"type": "integer", "minimum": 0},
    "count": {"type": "integer", "minimum": 0, "description": "items in this page"},
    "total_count": {"type": "number", "minimum": 0, "description": "filtered total"},
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
    schema["properties"].update(_PAGER_KEYS)
    schema["required"] = [*schema["required"], *_PAGER_KEYS]
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
    str,
    "MongoDB-style JSON object (`$ne $in $nin $regex $lt $lte $gt $gte $exists $and $or "
    "$nor`) or a free-text search",
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

    def _get_response_bodies(self, direction: str = "response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["400", "401"]
        if not self._is_public():
            codes.append("403")
        if "{" in self.path:
            codes.append("404")
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


# --- authentication ---------------------------------------------------------------------------
class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.HeaderAuthentication"
    name = ["bearerAuth", "basicAuth"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            {"type": "http", "scheme": "basic"},
        ]


class TokenArgumentScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.TokenArgumentAuthentication"
    name = "tokenArgument"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "query", "name": "token"}


class PasswordArgumentScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.PasswordArgumentAuthentication"
    name = ["usernameArgument", "passwordArgument"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "query", "name": "username"},
            {"type": "apiKey", "in": "query", "name": "password"},
        ]

    def get_security_requirement(self, auto_schema):
        return {"usernameArgument": [], "passwordArgument": []}


class CookieScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.CookieAuthentication"
    name = "tokenCookie"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "token"}


# --- accounts ---------------------------------------------------------------------------------
TOKEN = component(
    "Token",
    {
        "type": "object",
        "properties": {"token": {"type": "string", "description": "JWT (HS512)"}},
        "required": ["token"],
        "additionalProperties": False,
    },
)
_DATETIME = {"type": "string", "nullable": True, "description": "UTC ISO-8601"}
_ROLE_PROPERTIES = {
    "_id": {"type": "string"},
    "name": {"type": "string"},
    "realname": {"type": "string", "nullable": True},
    "is_active": {"type": "boolean"},
    "created": _DATETIME,
    "updated": _DATETIME,
    "etag": {"type": "string"},
    "role": {"type": "array", "items": {"type": "string"}},
    "perm": {"type": "array", "items": {"type": "string"}},
    "email": {"type": "string", "description": "users only"},
    "last_login": {**_DATETIME, "description": "users only"},
}
ROLE = component(
    "Role",
    {
        "type": "object",
        "description": "a user (has `email`) or a role",
        "properties": _ROLE_PROPERTIES,
        "required": ["_id", "name", "realname", "is_active", "created", "etag", "role", "perm"],
    },
)
ROLE_DETAIL = component(
    "RoleDetail",
    {
        "allOf": [
            ROLE,
            {
                "type": "object",
                "properties": {
                    "role_total": {"type": "array", "items": {"type": "string"}},
                    "perm_total": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["role_total", "perm_total"],
            },
        ]
    },
)
PROFILE = component(
    "Profile",
    {
        "allOf": [
            ROLE_DETAIL,
            {
                "type": "object",
                "properties": {"token_expires": _DATETIME},
                "required": ["token_expires"],
            },
        ]
    },
)
_ROLE_BODY = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "no whitespace, unique"},
        "realname": {"type": "string"},
        "email": {"type": "string", "description": "makes it a user"},
        "password": {"type": "string", "description": "requires an email (`passwd` too)"},
        "is_active": {"type": "boolean"},
        "role": {"type": "array", "items": {"type": "string"}, "description": "role names"},
        "perm": {
            "type": "array",
            "items": {"type": "string"},
            "description": "`cop`, `api://<regex>[/crud]`, `job://<regex>/<r|x>`, `app://<key>`",
        },
    },
}
_NO_CHANGES = {"oneOf": [ROLE, {"type": "string", "enum": ["no changes"]}]}
_PROFILE_OR_NO_CHANGES = {"oneOf": [PROFILE, {"type": "string", "enum": ["no changes"]}]}
_CREDENTIALS = {
    "username": {"type": "string"},
    "password": {"type": "string"},
    "token": {"type": "string", "description": "a token to renew"},
}
_LOGIN = extend_schema(
    summary="Log in: a token for a credential",
    description="Credentials from the `Authorization` header (Basic/Bearer), `token`, "
    "`username` + `password`, or the cookie. The token is also sent as response header "
    "`token` and as an HttpOnly cookie.",
    parameters=[query("username"), query("password")],
    request=body(_CREDENTIALS),
    responses={200: envelope(TOKEN)},
)


def _replace(target, **methods):
    """A subclass of ``target`` whose handler methods carry the given ``extend_schema``."""
    attrs = {}
    for method, decorator in methods.items():
        attrs[method] = decorator(_copy(getattr(target, method)))
    return type(target.__name__, (target,), attrs)


def _copy(function):
    def handler(self, request, *args, **kwargs):
        return function(self, request, *args, **kwargs)

    handler.__name__ = function.__name__
    handler.__doc__ = function.__doc__
    return handler


class LoginViewSchema(OpenApiViewExtension):
    target_class = "accounts.views.LoginView"

    def view_replacement(self):
        return _replace(self.target_class, get=_LOGIN, post=_LOGIN)


class LogoutViewSchema(OpenApiViewExtension):
    target_class = "accounts.views.LogoutView"

    def view_replacement(self):
        logout = extend_schema(
            summary="Log out: clear the token cookie",
            request=None,
            responses={200: envelope({"type": "string", "enum": ["OK"]})},
        )
        return _replace(self.target_class, get=logout, post=logout)


class ProfileViewSchema(OpenApiViewExtension):
    target_class = "accounts.views.ProfileView"

    def view_replacement(self):
        return _replace(
            self.target_class,
            get=extend_schema(summary="The own record", responses={200: envelope(PROFILE)}),
            put=extend_schema(
                summary="Change the own realname, email or password",
                request=body(
                    {
                        "etag": {"type": "string"},
                        "realname": {"type": "string"},
                        "email": {"type": "string"},
                        "password": {"type": "string"},
                    },
                    ("etag",),
                ),
                responses={200: envelope(_PROFILE_OR_NO_CHANGES)},
            ),
        )


class RoleListViewSchema(OpenApiViewExtension):
    target_class = "accounts.views.RoleListView"

    def view_replacement(self):
        return _replace(
            self.target_class,
            get=extend_schema(
                summary="Users and roles, paged",
                parameters=[
                    PAGE,
                    PER_PAGE,
                    FILTER,
                    query("sort", str, "field name (`name`, `realname`, `created`, …)"),
                    query("order", int, "1 ascending, -1 descending", enum=[1, -1]),
                ],
                responses={200: paged(ROLE)},
            ),
            post=extend_schema(
                summary="Create a user (with email and password) or a role",
                request=body(_ROLE_BODY["properties"], ("name",)),
                responses={
                    200: envelope(ROLE),
                    404: OpenApiResponse(ERROR, "a role named in `role` does not exist"),
                },
            ),
        )


class RoleDistinctViewSchema(OpenApiViewExtension):
    target_class = "accounts.views.RoleDistinctView"

    def view_replacement(self):
        return _replace(
            self.target_class,
            get=extend_schema(
                summary="Every user and role name",
                responses={200: envelope({"type": "array", "items": {"type": "string"}})},
            ),
        )


class RoleDetailViewSchema(OpenApiViewExtension):
    target_class = "accounts.views.RoleDetailView"

    def view_replacement(self):
        etag = query("etag", str, "the current etag (optimistic locking)")
        return _replace(
            self.target_class,
            get=extend_schema(
                summary="A user or role with cascaded roles and permissions",
                responses={200: envelope(ROLE_DETAIL)},
            ),
            put=extend_schema(
                summary="Update a user or role (needs the current etag)",
                request=body({**_ROLE_BODY["properties"], "etag": {"type": "string"}}, ("etag",)),
                responses={200: envelope(_NO_CHANGES)},
            ),
            delete=extend_schema(
                summary="Delete a user or role (needs the current etag)",
                parameters=[etag],
                responses={200: envelope({"type": "boolean", "enum": [True]})},
            ),
        )


# --- events -------------------------------------------------------------------------------------
QUEUE_COUNTS = {
    "type": "object",
    "properties": {
        "created": {"type": "string", "description": "UTC ISO-8601"},
        "total": {"type": "integer", "minimum": 0},
    },
    "additionalProperties": {"type": "integer", "description": "unfinished jobs in this state"},
    "required": ["created", "total"],
}
HISTORY_ITEM = component("QueueHistoryItem", QUEUE_COUNTS)
EVENT = component(
    "Event",
    {
        "type": "object",
        "properties": {
            "_id": {"type": "string", "description": "24 hex digits, in commit order"},
            "created": {"type": "string"},
            "name": {"type": "string"},
            "author": {"type": "string"},
            "channel": {"type": "string"},
            "data": ANY,
        },
        "required": ["_id", "created", "name", "author", "channel", "data"],
        "additionalProperties": False,
    },
)
_SORT_DIRECTION = query("sort", int, "-1 newest first (default), 1 oldest first", enum=[1, -1])


def _history(summary: str, parameters: list[OpenApiParameter], item: dict) -> Any:
    """GET with query parameters; POST takes the same names in a JSON body."""
    kinds = {int: {"type": "integer"}, str: {"type": "string"}}
    properties = {p.name: {**kinds[p.type], "description": p.description} for p in parameters}
    return extend_schema(
        summary=summary,
        parameters=parameters,
        request=body(properties),
        responses={200: paged(item)},
    )


class JobHistoryViewSchema(OpenApiViewExtension):
    target_class = "events.views.JobHistoryView"

    def view_replacement(self):
        spec = _history(
            "The queue's state counts after each queue event",
            [PAGE, PER_PAGE, FILTER, _SORT_DIRECTION],
            HISTORY_ITEM,
        )
        return _replace(self.target_class, get=spec, post=spec)


class QueueHistoryViewSchema(OpenApiViewExtension):
    target_class = "events.views.QueueHistoryView"

    def view_replacement(self):
        spec = _history(
            "Queue history per time bucket (busiest state of each bucket)",
            [
                query("startDate", str, "UTC ISO-8601 (default: 7 days ago, midnight)"),
                query("endDate", str, "UTC ISO-8601 (default: now)"),
                _SORT_DIRECTION,
                query("perPage", int, "items per page"),
                PAGE,
            ],
            HISTORY_ITEM,
        )
        return _replace(self.target_class, get=spec, post=spec)


class EventHistoryViewSchema(OpenApiViewExtension):
    target_class = "events.views.EventHistoryView"

    def view_replacement(self):
        spec = _history(
            "Stored `message` events (or the channel in `filter`), newest first",
            [PAGE, PER_PAGE, FILTER],
            EVENT,
        )
        return _replace(self.target_class, get=spec, post=spec)


__all__ = [
    "ANY",
    "ERROR",
    "FILTER",
    "PAGE",
    "PER_PAGE",
    "SSE",
    "Core4AutoSchema",
    "OpenApiResponse",
    "body",
    "component",
    "envelope",
    "paged",
    "path",
    "query",
]
