"""Login, logout, profile and the users & roles API."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_view
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import openapi, origin, principals, revocation, sessions
from accounts.authentication import REFRESH_ATTR, SOURCE_ATTR
from accounts.models import Role
from accounts.principals import UNSET, Changes
from accounts.tokens import COOKIE_NAME, HEADER_NAME, issue_token, set_token_cookie, token_expires
from core4api.arguments import argument, arguments
from core4api.filters import Core4Filter, Core4Sort, Field, to_datetime
from core4api.views import Core4APIView

STANDARD = "core4.api.v1.request.standard"


@extend_schema_view(**openapi.LOGIN_SCHEMA)
class LoginView(Core4APIView):
    """``GET|POST /core4/api/login`` and ``/core4/api/v1/login``: a fresh token for a credential.

    Only a POST sets the cookie, and not when a browser says another site sent it: a GET is
    a navigation any site can trigger (login CSRF). core4 clients read the token from the
    body or the ``token`` header either way.
    """

    core4_name = f"{STANDARD}.login.LoginHandler"
    permission_classes = [AllowAny]

    def get(self, request, *args, **kwargs):
        user = request.user
        if not user or not user.is_authenticated:
            raise NotAuthenticated("wrong or missing credentials")
        if getattr(request._request, SOURCE_ATTR, None) == "password":
            user.last_login = timezone.now()
            user.save(update_fields=["last_login"])
        token = issue_token(user, previous=request.auth)  # a renewal stays in its session
        return Response({"token": str(token)}, headers={HEADER_NAME: str(token)})

    def post(self, request, *args, **kwargs):
        response = self.get(request, *args, **kwargs)
        if origin.may_set_cookie(request._request):
            set_token_cookie(response, response.data["token"], request)
        return response


@extend_schema_view(**openapi.LOGOUT_SCHEMA)
class LogoutView(Core4APIView):
    """``POST /core4/api/v1/logout`` clears the cookie; with ``all=true`` it also revokes every
    token of the user (log out everywhere: open sockets and streams end too).

    ``GET`` answers ``OK`` for core4 clients but changes nothing: a GET must not change state,
    or any page could sign its visitors out with an image.
    """

    core4_name = f"{STANDARD}.logout.LogoutHandler"

    def get(self, request, *args, **kwargs):
        return Response("OK")

    def post(self, request, *args, **kwargs):
        if argument(request, "all", False, bool):
            revocation.logout_everywhere(request.user)
        response = Response("OK")
        response.delete_cookie(COOKIE_NAME, path="/", samesite="Lax")
        return response


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
        new_password = sessions.wants_new_password(changes.password)
        if new_password:
            sessions.check_current_password(
                request.user, arguments(request).get(sessions.CURRENT_PASSWORD)
            )
        updated = principals.update(request.user.pk, etag, changes, self_service=True)
        if updated is None:
            return Response("no changes")
        if new_password:  # every earlier token is revoked: this client gets a fresh one
            setattr(request._request, REFRESH_ATTR, issue_token(updated))
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
        created = principals.create(_changes(request, *ROLE_FIELDS), actor=request.user)
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
        changes = _changes(request, *ROLE_FIELDS)
        updated = principals.update(pk, current, changes, actor=request.user)
        if updated is None:
            return Response("no changes")
        return Response(principals.to_response(updated))

    def delete(self, request, pk: str, etag: str | None = None):
        current = etag if etag is not None else argument(request, "etag", as_type=str)
        principals.delete(pk, current, actor=request.user)
        return Response(True)
