"""History APIs: job state history, aggregated queue history, event history.

All read the ``Event`` table through its indexes: ``(channel, id)`` for the newest-first
pages, ``(channel, created)`` for date spans. Pages are core4's (``page``, ``per_page``,
``total_count``…) via the shared pager.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Window
from django.db.models.functions import RowNumber, Trunc
from drf_spectacular.utils import extend_schema_view

from core4api.arguments import argument
from core4api.exceptions import BadRequest
from core4api.filters import Core4Filter, Core4Sort, Field, to_datetime
from core4api.ids import isoformat, utcnow
from core4api.views import Core4APIView
from events import openapi
from events.models import MESSAGE, QUEUE, Event, parse_id

HISTORY = "core4.api.v1.request.queue.history"
EVENT = "core4.api.v1.request.standard.event"


def event_id(value: Any) -> int:
    """Filters on ``_id`` take the string ids clients see."""
    try:
        return parse_id(value)
    except (ValueError, TypeError):
        raise BadRequest(f"invalid _id [{str(value)[:64]}] in filter") from None


#: What the history endpoints filter on (the stored event).
EVENT_FIELDS = {
    "_id": Field("id", "value", convert=event_id),
    "created": Field("created", "value", convert=to_datetime),
    "name": Field("name"),
    "author": Field("author"),
    "channel": Field("channel"),
    "data": Field("data", "json"),
    "total": Field("total", "value"),
}
EVENT_SEARCH = ("name", "author", "channel")


def queue_counts(event: Event) -> dict[str, int]:
    counts = (event.data or {}).get("queue") if isinstance(event.data, dict) else None
    return {k: v for k, v in (counts or {}).items() if v} if isinstance(counts, dict) else {}


def history_item(event: Event) -> dict[str, Any]:
    counts = queue_counts(event)
    return {"created": isoformat(event.created), "total": sum(counts.values()), **counts}


@extend_schema_view(**openapi.JOB_HISTORY_SCHEMA)
class JobHistoryView(Core4APIView):
    """``GET|POST /core4/api/v1/jobs/history``: the queue's states after each event."""

    core4_name = f"{HISTORY}.JobHistoryHandler"
    filter_backends = (Core4Filter, Core4Sort)
    filter_fields = EVENT_FIELDS
    search_fields = EVENT_SEARCH
    sort_fields = {"_id": "id"}
    default_sort = (("_id", -1),)
    sort_by_direction = True

    def get(self, request, *args, **kwargs):
        # job events only: chat that reached `queue` before it was reserved is no point
        queryset = Event.objects.filter(channel=QUEUE, total__isnull=False)
        return self.paginate(
            self.filter_queryset(queryset.only("id", "created", "data")), history_item
        )

    post = get


def granularity(start: datetime, end: datetime) -> str:
    """Bucket size as core4 picks it: the first non-zero unit of the span, one finer."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if (end.day, end.time()) < (start.day, start.time()):
        months -= 1
    if months >= 12:
        return "day"
    if months >= 1:
        return "hour"
    if end - start >= timedelta(days=1):
        return "minute"
    return "second"


@extend_schema_view(**openapi.QUEUE_HISTORY_SCHEMA)
class QueueHistoryView(Core4APIView):
    """``GET|POST /core4/api/v1/queue/history``: per time bucket the busiest queue state."""

    core4_name = f"{HISTORY}.QueueHistoryHandler"
    filter_backends = (Core4Sort,)
    sort_fields = {"created": "created", "_id": "id"}
    default_sort = (("created", -1), ("_id", -1))
    sort_by_direction = True

    def get(self, request, *args, **kwargs):
        now = utcnow()
        default_start = (now - timedelta(days=settings.CORE4_QUEUE_HISTORY_DAYS)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        start = argument(request, "startDate", None, datetime) or default_start
        end = argument(request, "endDate", None, datetime)
        if end is not None and start > end:
            raise BadRequest("Invalid time period. Start date > End date")
        kind = granularity(start, end or now)
        queryset = Event.objects.filter(channel=QUEUE, total__isnull=False, created__gte=start)
        if end is not None:
            queryset = queryset.filter(created__lte=end)
        queryset = (
            queryset.annotate(
                bucket=Trunc("created", kind, tzinfo=UTC),
                rank=Window(
                    RowNumber(),
                    partition_by=[F("bucket")],
                    order_by=[F("total").desc(nulls_last=True), F("id").asc()],
                ),
            )
            .filter(rank=1)
            .only("id", "created", "data")
        )
        queryset = self.filter_queryset(queryset)
        pager = self.pagination_class()
        pager.per_page_argument = "perPage"
        items = pager.paginate_queryset(queryset, request, self)
        return pager.get_paginated_response([history_item(event) for event in items])

    post = get


@extend_schema_view(**openapi.EVENT_HISTORY_SCHEMA)
class EventHistoryView(Core4APIView):
    """``GET|POST /core4/api/v1/event/history``: chat (or ``filter``'s channel) newest first."""

    core4_name = f"{EVENT}.EventHistoryHandler"
    filter_backends = (Core4Filter,)
    filter_fields = EVENT_FIELDS
    search_fields = EVENT_SEARCH
    filter_defaults = {"channel": MESSAGE}

    def get(self, request, *args, **kwargs):
        queryset = self.filter_queryset(Event.objects.all())
        return self.paginate(queryset.order_by("-id"), Event.to_document)

    post = get
