"""OpenAPI descriptions of the accounts API: the token sources and each view's methods.

``views`` attaches the ``*_SCHEMA`` dicts to its classes with ``extend_schema_view``; importing
this module registers the authentication extensions (drf-spectacular finds them by class).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema

from accounts.authentication import (
    CookieAuthentication,
    HeaderAuthentication,
    PasswordArgumentAuthentication,
    TokenArgumentAuthentication,
)
from core4api.openapi import ERROR, FILTER, PAGE, PER_PAGE, body, component, envelope, paged, query


# --- the token sources ---------------------------------------------------------------------------
class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = HeaderAuthentication
    name = ["bearerAuth", "basicAuth"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            {"type": "http", "scheme": "basic"},
        ]


class TokenArgumentScheme(OpenApiAuthenticationExtension):
    target_class = TokenArgumentAuthentication
    name = "tokenArgument"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "query", "name": "token"}


class PasswordArgumentScheme(OpenApiAuthenticationExtension):
    target_class = PasswordArgumentAuthentication
    name = ["usernameArgument", "passwordArgument"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "query", "name": "username"},
            {"type": "apiKey", "in": "query", "name": "password"},
        ]

    def get_security_requirement(self, auto_schema):
        return {"usernameArgument": [], "passwordArgument": []}


class CookieScheme(OpenApiAuthenticationExtension):
    target_class = CookieAuthentication
    name = "tokenCookie"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "token"}


# --- data ---------------------------------------------------------------------------------------
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
    "token": {
        "type": "string",
        "description": "a token to renew: the new one stays in its session (no token outlives "
        "`CORE4_SESSION_MAX`, default 7 days, after the password login)",
    },
}
_LOGIN = extend_schema(
    summary="Log in: a token for a credential",
    description="Credentials from the `Authorization` header (Basic/Bearer), `token`, "
    "`username` + `password`, or the cookie. The token is also sent as response header "
    "`token`; a POST login also sets it as an HttpOnly cookie (not when the `Origin` is "
    "another site's). Password checks are limited per address and per user: 429. A password "
    "login starts a session; renewing with a token continues it, and no token of a session "
    "outlives `CORE4_SESSION_MAX` (default 7 days) after its password login. A token of a "
    "revoked session (password changed, user deactivated, logged out everywhere) is a 401.",
    parameters=[query("username"), query("password")],
    request=body(_CREDENTIALS),
    responses={200: envelope(TOKEN)},
)


# --- the views' methods ---------------------------------------------------------------------------
LOGIN_SCHEMA = {"get": _LOGIN, "post": _LOGIN}

_LOGOUT = extend_schema(
    summary="Log out: clear the token cookie; `all=true`: log out everywhere",
    description="A plain logout only clears the cookie. With `all=true` "
    "every token of the user issued so far is revoked (its token generation is bumped): "
    "requests with them are a 401, the user's open event sockets close with 4401 and its "
    "`follow` streams end, within 2 s.",
    parameters=[query("all", bool, "revoke every token of the user (log out everywhere)")],
    request=body({"all": {"type": "boolean", "description": "log out everywhere"}}),
    responses={200: envelope({"type": "string", "enum": ["OK"]})},
)
_LOGOUT_GET = extend_schema(
    summary="Answers OK for core4 clients; clears nothing (log out with POST)",
    request=None,
    responses={200: envelope({"type": "string", "enum": ["OK"]})},
)
LOGOUT_SCHEMA = {"get": _LOGOUT_GET, "post": _LOGOUT}

PROFILE_SCHEMA = {
    "get": extend_schema(summary="The own record", responses={200: envelope(PROFILE)}),
    "put": extend_schema(
        summary="Change the own realname, email or password",
        description="A new `password` needs the current one in `current_password` (missing: "
        "400, wrong: 403). A password change revokes every token of the user issued before "
        "(open sockets close with 4401); the reply carries a fresh token for this client in "
        "the `token` header and cookie.",
        request=body(
            {
                "etag": {"type": "string"},
                "realname": {"type": "string"},
                "email": {"type": "string"},
                "password": {"type": "string", "description": "the new password"},
                "current_password": {
                    "type": "string",
                    "description": "required with `password`",
                },
            },
            ("etag",),
        ),
        responses={
            200: envelope(_PROFILE_OR_NO_CHANGES),
            400: OpenApiResponse(ERROR, "a new password without `current_password`"),
            403: OpenApiResponse(ERROR, "`current_password` is wrong"),
        },
    ),
}

ROLE_LIST_SCHEMA = {
    "get": extend_schema(
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
    "post": extend_schema(
        summary="Create a user (with email and password) or a role",
        request=body(_ROLE_BODY["properties"], ("name",)),
        responses={
            200: envelope(ROLE),
            404: OpenApiResponse(ERROR, "a role named in `role` does not exist"),
        },
    ),
}

ROLE_DISTINCT_SCHEMA = {
    "get": extend_schema(
        summary="Every user and role name",
        responses={200: envelope({"type": "array", "items": {"type": "string"}})},
    ),
}

ROLE_DETAIL_SCHEMA = {
    "get": extend_schema(
        summary="A user or role with cascaded roles and permissions",
        responses={200: envelope(ROLE_DETAIL)},
    ),
    "put": extend_schema(
        summary="Update a user or role (needs the current etag)",
        request=body({**_ROLE_BODY["properties"], "etag": {"type": "string"}}, ("etag",)),
        responses={200: envelope(_NO_CHANGES)},
    ),
    "delete": extend_schema(
        summary="Delete a user or role (needs the current etag)",
        parameters=[query("etag", str, "the current etag (optimistic locking)")],
        responses={200: envelope({"type": "boolean", "enum": [True]})},
    ),
}
