"""core4's pager as a DRF pagination class.

``page`` is 0-based and may be negative (``-1`` = last page); a page past the end is an
empty page, not an error; ``per_page`` below 1 is a 400. Paged replies carry ``page``,
``per_page``, ``page_count``, ``count`` and ``total_count`` (a float, as core4 sends it) at
the top level of the envelope.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext

from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from core4api.arguments import argument
from core4api.exceptions import BadRequest
from core4api.limits import COSTLY_ATTR, query_budget


class Core4Pager(BasePagination):
    page_argument = "page"
    per_page_argument = "per_page"
    default_per_page = 10
    max_per_page = 1000
    #: The keys a paged reply carries at the top level of the envelope (OpenAPI).
    PAGING_SCHEMA = {
        "page": {"type": "integer", "description": "0-based page (negative counts from the end)"},
        "per_page": {"type": "integer", "minimum": 1},
        "page_count": {"type": "integer", "minimum": 0},
        "count": {"type": "integer", "minimum": 0, "description": "items in this page"},
        "total_count": {"type": "number", "minimum": 0, "description": "filtered total"},
    }

    def paginate_queryset(self, queryset, request, view=None):
        per_page = argument(request, self.per_page_argument, self.default_per_page, int)
        if per_page < 1:
            raise BadRequest(f"parameter [{self.per_page_argument}] must be >= 1")
        if per_page > self.max_per_page:
            raise BadRequest(f"parameter [{self.per_page_argument}] must be <= {self.max_per_page}")
        page = argument(request, self.page_argument, 0, int)
        in_memory = isinstance(queryset, Sequence)
        costly = getattr(request, COSTLY_ATTR, False)
        with nullcontext() if in_memory else query_budget(costly):  # a 503, never a hang
            total = len(queryset) if in_memory else queryset.count()
            page_count = math.ceil(total / per_page)
            if page < 0:
                page = page_count + page
            if page < 0 or page >= page_count:
                items: list = []
            else:
                items = list(queryset[page * per_page : (page + 1) * per_page])
        self.paging = {
            "page": page,
            "per_page": per_page,
            "page_count": page_count,
            "count": len(items),
            "total_count": float(total),
        }
        return items

    def get_paginated_response(self, data) -> Response:
        response = Response(data)
        response.core4_paging = dict(self.paging, count=len(data))  # type: ignore[attr-defined]
        return response

    def get_paginated_response_schema(self, schema):
        from core4api.openapi import paged  # the envelope's schema lives there

        return paged(schema)
