"""The base of every core4 API view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.response import Response
from rest_framework.views import APIView

from core4api.filters import Field
from core4api.limits import check_body_size
from core4api.pagination import Core4Pager


class Core4APIView(APIView):
    """An APIView with core4's envelope, pager, arguments and ``api://`` permission.

    Subclasses set ``core4_name`` to the core4 handler name that ``api://`` permissions
    refer to (checked by ``accounts.api_permissions.HasCore4APIAccess``). Listings name
    ``filter_backends`` (:mod:`core4api.filters`) and declare the fields they may use.
    """

    core4_name: str | None = None
    pagination_class = Core4Pager
    filter_backends: tuple = ()
    #: API filter names → fields (see :class:`core4api.filters.Core4Filter`)
    filter_fields: dict[str, Field] = {}
    search_fields: tuple[str, ...] = ()
    filter_defaults: dict[str, Any] = {}
    #: API sort names → ORM fields (see :class:`core4api.filters.Core4Sort`)
    sort_fields: dict[str, str] = {}
    default_sort: tuple[tuple[str, int], ...] = (("_id", 1),)
    sort_by_direction = False

    def initial(self, request, *args, **kwargs) -> None:
        check_body_size(request)  # before authentication reads the body for its arguments
        super().initial(request, *args, **kwargs)

    def filter_queryset(self, queryset):
        """The queryset through every backend of ``filter_backends``, in order."""
        for backend in self.filter_backends:
            queryset = backend().filter_queryset(self.request, queryset, self)
        return queryset

    def paginate(self, queryset, serialize: Callable[[Any], Any] = lambda item: item) -> Response:
        pager = self.pagination_class()
        items = pager.paginate_queryset(queryset, self.request, self)
        return pager.get_paginated_response([serialize(item) for item in items])
