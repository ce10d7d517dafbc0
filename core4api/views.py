"""The base of every core4 API view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.response import Response
from rest_framework.views import APIView

from core4api.arguments import argument
from core4api.exceptions import BadRequest
from core4api.pagination import Core4Pager


class Core4APIView(APIView):
    """An APIView with core4's envelope, pager, arguments and ``api://`` permission.

    Subclasses set ``core4_name`` to the core4 handler name that ``api://`` permissions
    refer to (checked by ``accounts.api_permissions.HasCore4APIAccess``).
    """

    core4_name: str | None = None
    pagination_class = Core4Pager
    #: API sort names → ORM fields, for :meth:`sorted_queryset`.
    sort_fields: dict[str, str] = {}
    default_sort = "_id"

    def paginate(self, queryset, serialize: Callable[[Any], Any] = lambda item: item) -> Response:
        pager = self.pagination_class()
        items = pager.paginate_queryset(queryset, self.request, self)
        return pager.get_paginated_response([serialize(item) for item in items])

    def sorted_queryset(self, queryset):
        """Apply ``sort`` (field name) and ``order`` (1 / -1) as core4 clients send them."""
        sort = argument(self.request, "sort", self.default_sort, str)
        order = argument(self.request, "order", 1, int)
        if sort not in self.sort_fields:
            raise BadRequest(
                f"cannot sort by [{sort[:100]}], use one of {sorted(self.sort_fields)}"
            )
        if order not in (1, -1):
            raise BadRequest("parameter [order] must be 1 or -1")
        field = self.sort_fields[sort]
        tiebreak = "pk" if field not in ("pk", "id") else None
        ordering = [field if order == 1 else "-" + field]
        if tiebreak:
            ordering.append(tiebreak if order == 1 else "-" + tiebreak)
        return queryset.order_by(*ordering)
