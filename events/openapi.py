"""OpenAPI descriptions of the history APIs; ``views`` attaches them with ``extend_schema_view``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema

from core4api.openapi import ANY, FILTER, PAGE, PER_PAGE, body, component, paged, query

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


def _schema_of(parameter: OpenApiParameter) -> dict[str, Any]:
    """A query parameter's schema, for the same name in a JSON body."""
    if isinstance(parameter.type, dict):
        return parameter.type
    return {int: {"type": "integer"}, str: {"type": "string"}}[parameter.type]


def _history(summary: str, parameters: list[OpenApiParameter], item: dict) -> Any:
    """GET with query parameters; POST takes the same names in a JSON body."""
    properties = {p.name: {**_schema_of(p), "description": p.description} for p in parameters}
    return extend_schema(
        summary=summary,
        parameters=parameters,
        request=body(properties),
        responses={200: paged(item)},
    )


_JOB_HISTORY = _history(
    "The queue's state counts after each queue event",
    [PAGE, PER_PAGE, FILTER, _SORT_DIRECTION],
    HISTORY_ITEM,
)
JOB_HISTORY_SCHEMA = {"get": _JOB_HISTORY, "post": _JOB_HISTORY}

_QUEUE_HISTORY = _history(
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
QUEUE_HISTORY_SCHEMA = {"get": _QUEUE_HISTORY, "post": _QUEUE_HISTORY}

_EVENT_HISTORY = _history(
    "Stored `message` events (or the channel in `filter`), newest first",
    [PAGE, PER_PAGE, FILTER],
    EVENT,
)
EVENT_HISTORY_SCHEMA = {"get": _EVENT_HISTORY, "post": _EVENT_HISTORY}
