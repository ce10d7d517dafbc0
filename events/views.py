"""History APIs (CONTRACT §5): job state history, aggregated queue history, event history.

All read the ``Event`` table through its indexes: ``(channel, id)`` for the newest-first
pages, ``(channel, created)`` for date spans. Pages are core4's (``page``, ``per_page``,
``total_count``…) via the shared pager.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Window
from django.db.models.functions import RowNumber, Trunc
from drf_spectacular.utils import extend_schema_view

from core4api.arguments import argument
from core4api.exceptions import BadRequest
from core4api.filters import Field, FilterSpec
from core4api.ids import isoformat, utcnow
from core4api.views import Core4APIView
from events import openapi
from events.models import MESSAGE, QUEUE, Event, format_id, parse_id

HISTORY = "core4.api.v1.request.queue.history"
EVENT = "core4.api.v1.request.standard.event"
DATETIME_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")


EVENT_FILTER = FilterSpec(
    fields={
        "_id": Field("id", "value"),
        "created": Field("created", "value"),
        "name": Field("name"),
        "author": Field("author"),
        "channel": Field("channel"),
        "data": Field("data", "json"),
        "total": Field("total", "value"),
    },
    search=("name", "author", "channel"),
)


def _convert(value: Any) -> Any:
    """core4 turns filter strings shaped ``%Y-%m-%dT%H:%M:%S`` into datetimes; so do we."""
    if isinstance(value, dict):
        return {key: _convert(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_convert(item) for item in value]
    if isinstance(value, str) and DATETIME_TEXT.match(value):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def _id_values(value: Any) -> Any:
    """Filters on ``_id`` take the string ids clients see."""
    if isinstance(value, dict):
        return {key: _id_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_id_values(item) for item in value]
    try:
        return parse_id(value)
    except (ValueError, TypeError):
        raise BadRequest(f"invalid _id [{str(value)[:64]}] in filter")


def filter_document(request) -> dict | str | None:
    raw = argument(request, "filter", None)
    if raw in (None, "", {}):
        return None
    if isinstance(raw, str):
        text = raw.strip()
        if not text.startswith("{"):
            return text  # free-text search
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise BadRequest(f"Can not parse filter {text[:200]}: {exc}") from exc
    if not isinstance(raw, dict):
        raise BadRequest("filter must be a JSON object or a search text")
    doc = _convert(raw)
    if "_id" in doc:
        doc["_id"] = _id_values(doc["_id"])
    return doc


def _sort(request) -> int:
    sort = argument(request, "sort", -1, int)
    if sort not in (1, -1):
        raise BadRequest("parameter [sort] must be 1 or -1")
    return sort


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

    def get(self, request, *args, **kwargs):
        order = "id" if _sort(request) == 1 else "-id"
        queryset = EVENT_FILTER.apply(
            Event.objects.filter(channel=QUEUE, total__isnull=False), filter_document(request)
        ).only("id", "created", "data")
        return self.paginate(queryset.order_by(order), history_item)

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

    def get(self, request, *args, **kwargs):
        now = utcnow()
        default_start = (now - timedelta(days=settings.CORE4_QUEUE_HISTORY_DAYS)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        start = argument(request, "startDate", None, datetime) or default_start
        end = argument(request, "endDate", None, datetime)
        if end is not None and start > end:
            raise BadRequest("Invalid time period. Start date > End date")
        sort = _sort(request)
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
            .order_by("created" if sort == 1 else "-created", "id" if sort == 1 else "-id")
        )
        pager = self.pagination_class()
        pager.per_page_argument = "perPage"
        items = pager.paginate_queryset(queryset, request, self)
        return pager.get_paginated_response([history_item(event) for event in items])

    post = get


def event_item(event: Event) -> dict[str, Any]:
    return {
        "_id": format_id(event.pk),
        "author": event.author,
        "channel": event.channel,
        "created": isoformat(event.created),
        "name": event.name,
        "data": event.data,
    }


@extend_schema_view(**openapi.EVENT_HISTORY_SCHEMA)
class EventHistoryView(Core4APIView):
    """``GET|POST /core4/api/v1/event/history``: chat (or ``filter``'s channel) newest first."""

    core4_name = f"{EVENT}.EventHistoryHandler"

    def get(self, request, *args, **kwargs):
        doc = filter_document(request)
        queryset = Event.objects.all()
        if isinstance(doc, dict):
            queryset = EVENT_FILTER.apply(queryset, {"channel": MESSAGE, **doc})
        else:
            queryset = EVENT_FILTER.apply(queryset.filter(channel=MESSAGE), doc)
        return self.paginate(queryset.order_by("-id"), event_item)

    post = get
