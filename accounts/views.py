"""Login, logout, profile and the users & roles API (CONTRACT §2–3)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_view
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import openapi, principals
from accounts.authentication import SOURCE_ATTR
from accounts.models import Role
from accounts.principals import UNSET, Changes
from accounts.tokens import COOKIE_NAME, HEADER_NAME, issue_token, set_token_cookie, token_expires
from core4api.arguments import argument, arguments
from core4api.filters import Core4Filter, Core4Sort, Field, to_datetime
from core4api.views import Core4APIView

STANDARD = "core4.api.v1.request.standard"


@extend_schema_view(**openapi.LOGIN_SCHEMA)
class LoginView(Core4APIView):
    """``GET|POST /core4/api/login`` and ``/core4/api/v1/login``: a fresh token for a credential."""

    core4_name = f"{STANDARD}.login.LoginHandler"
    permission_classes = [AllowAny]

    def get(self, request, *args, **kwargs):
        user = request.user
        if not user or not user.is_authenticated:
            raise NotAuthenticated("wrong or missing credentials")
        if getattr(request._request, SOURCE_ATTR, None) == "password":
            user.last_login = timezone.now()
            user.save(update_fields=["last_login"])
        token = issue_token(user)
        response = Response({"token": str(token)}, headers={HEADER_NAME: str(token)})
        set_token_cookie(response, token, request)
        return response

    post = get


@extend_schema_view(**openapi.LOGOUT_SCHEMA)
class LogoutView(Core4APIView):
    """``GET|POST /core4/api/v1/logout``: clears the cookie (tokens are stateless)."""

    core4_name = f"{STANDARD}.logout.LogoutHandler"

    def get(self, request, *args, **kwargs):
        response = Response("OK")
        response.delete_cookie(COOKIE_NAME, path="/", samesite="Lax")
        return response

    post = get


def _changes(request, *names: str) -> Changes:
    """The fields present in the request (``passwd`` is core4's name for ``password``)."""
    args = arguments(request)
    changes = Changes()
    for name in names:
        if name == "password":
            value = args.get("password", args.get("passwd", UNSET))
        elif name in args:
            value = args[name]
            if name == "is_active":
                value = argument(request, "is_active", None, bool)
            elif name in ("perm", "role"):
                value = argument(request, name, None, list)
        else:
            value = UNSET
        setattr(changes, name, value)
    return changes


ROLE_FIELDS = ("name", "realname", "is_active", "role", "email", "password", "perm")


@extend_schema_view(**openapi.PROFILE_SCHEMA)
class ProfileView(Core4APIView):
    """``GET|PUT /core4/api/v1/profile``: the own record; PUT changes realname, email, password."""

    core4_name = f"{STANDARD}.profile.ProfileHandler"

    def get(self, request, *args, **kwargs):
        data = principals.detail(request.user)
        data["token_expires"] = token_expires(request.auth)
        return Response(data)

    def put(self, request, *args, **kwargs):
        etag = argument(request, "etag", as_type=str)
        changes = _changes(request, "realname", "email", "password")
        updated = principals.update(request.user.pk, etag, changes, self_service=True)
        if updated is None:
            return Response("no changes")
        data = principals.detail(updated)
        data["token_expires"] = token_expires(request.auth)
        return Response(data)


@extend_schema_view(**openapi.ROLE_LIST_SCHEMA)
class RoleListView(Core4APIView):
    """``GET /roles`` (paged, filtered, sorted) and ``POST /roles`` (create a user or role)."""

    core4_name = "core4.api.v1.request.role.main.RoleHandler"
    filter_backends = (Core4Filter, Core4Sort)
    filter_fields = {
        "_id": Field("id"),
        "name": Field("name"),
        "realname": Field("realname"),
        "is_active": Field("is_active", "value"),
        "email": Field("user__email"),
        "perm": Field("perm", "list"),
        "role": Field("roles__name", distinct=True),
        "created": Field("created", "value", convert=to_datetime),
        "updated": Field("updated", "value", convert=to_datetime),
        "last_login": Field("user__last_login", "value", convert=to_datetime),
        "etag": Field("etag"),
    }
    search_fields = ("name", "realname", "perm")
    sort_fields = {
        "_id": "id",
        "name": "name",
        "realname": "realname",
        "is_active": "is_active",
        "created": "created",
        "updated": "updated",
        "email": "user__email",
        "last_login": "user__last_login",
    }

    def get(self, request, *args, **kwargs):
        queryset = Role.objects.select_related("user").prefetch_related("roles")
        return self.paginate(self.filter_queryset(queryset), principals.to_response)

    def post(self, request, *args, **kwargs):
        created = principals.create(_changes(request, *ROLE_FIELDS))
        return Response(principals.to_response(created))


@extend_schema_view(**openapi.ROLE_DISTINCT_SCHEMA)
class RoleDistinctView(Core4APIView):
    """``GET /roles/distinct``: every role and user name."""

    core4_name = RoleListView.core4_name

    def get(self, request, *args, **kwargs):
        return Response(sorted(Role.objects.values_list("name", flat=True)))


@extend_schema_view(**openapi.ROLE_DETAIL_SCHEMA)
class RoleDetailView(Core4APIView):
    """``GET|PUT|DELETE /roles/<id>`` (DELETE also as ``/roles/<id>/<etag>``)."""

    core4_name = RoleListView.core4_name

    def get(self, request, pk: str, etag: str | None = None):
        return Response(principals.detail(principals.load(pk)))

    def put(self, request, pk: str, etag: str | None = None):
        current = argument(request, "etag", as_type=str)
        updated = principals.update(pk, current, _changes(request, *ROLE_FIELDS))
        if updated is None:
            return Response("no changes")
        return Response(principals.to_response(updated))

    def delete(self, request, pk: str, etag: str | None = None):
        principals.delete(pk, etag if etag is not None else argument(request, "etag", as_type=str))
        return Response(True)
