"""The job listing's ``filter`` and ``sort``, evaluated on what the user may see.

Filters and sort keys on ``qual_name``/``name`` and ``args`` work on *masked* columns: a job
the user may not read has the name ``UnauthorizedJob`` and no arguments there, so neither a
filter (``{"name": {"$regex": "^secret"}}`` and counting) nor a sort order reveals anything
about it. Which names are readable is decided in Python with the permission engine
(``re.match`` semantics, which no SQL dialect shares) over the distinct names in the queue.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Case, CharField, F, JSONField, QuerySet, Value, When

from accounts.permissions import Access
from core4api.arguments import CONVERTERS, argument
from core4api.exceptions import BadRequest
from core4api.filters import MAX_DEPTH, Field, FilterSpec
from jobqueue.api.presenters import UNAUTHORIZED
from jobqueue.models import Job

JOB_FILTER = FilterSpec(
    fields={
        "_id": Field("id"),
        "qual_name": Field("visible_name"),
        "name": Field("visible_name"),
        "args": Field("visible_args", "json"),
        "state": Field("state"),
        "priority": Field("priority", "value"),
        "force": Field("force", "value"),
        "worker": Field("worker"),
        "attempts": Field("attempts", "value"),
        "attempts_left": Field("attempts_left", "value"),
        "trial": Field("trial", "value"),
        "enqueued.at": Field("enqueued_at", "value"),
        "enqueued.by": Field("enqueued_by"),
        "enqueued.hostname": Field("enqueued_hostname"),
        "enqueued.parent_id": Field("parent_id"),
        "started_at": Field("started_at", "value"),
        "query_at": Field("query_at", "value"),
        "killed_at": Field("killed_at", "value"),
        "removed_at": Field("removed_at", "value"),
        "wall_at": Field("wall_at", "value"),
        "zombie_at": Field("zombie_at", "value"),
        "prog.value": Field("prog_value", "value"),
        "locked.worker": Field("locked_by"),
    },
    search=("qual_name",),
)

#: API sort keys → ORM fields.
SORT_FIELDS = {
    "_id": "id",
    "qual_name": "visible_name",
    "name": "visible_name",
    "state": "state",
    "priority": "priority",
    "force": "force",
    "trial": "trial",
    "attempts_left": "attempts_left",
    "enqueued.at": "enqueued_at",
    "started_at": "started_at",
    "prog.value": "prog_value",
}


def readable_names(access: Access, queryset: QuerySet) -> list[str]:
    names = queryset.order_by().values_list("name", flat=True).distinct()
    return [name for name in names if access.can_read_job(name)]


def masked_queue(access: Access) -> QuerySet:
    """Unfinished jobs with ``visible_name`` / ``visible_args`` annotated for ``access``."""
    queryset = Job.objects.filter(journaled=False)
    if access.is_admin:
        return queryset.annotate(visible_name=F("name"), visible_args=F("args"))
    readable = readable_names(access, queryset)
    return queryset.annotate(
        visible_name=Case(
            When(name__in=readable, then=F("name")),
            default=Value(UNAUTHORIZED),
            output_field=CharField(),
        ),
        visible_args=Case(
            When(name__in=readable, then=F("args")),
            default=Value(None, output_field=JSONField()),
            output_field=JSONField(),
        ),
    )


DATETIME_KEYS = {
    "enqueued.at", "started_at", "query_at", "killed_at", "removed_at", "wall_at", "zombie_at",
}  # fmt: skip


def _utc(value: Any) -> Any:
    """ISO strings compared with a datetime column mean UTC (as every datetime of the API)."""
    if isinstance(value, list):
        return [_utc(item) for item in value]
    if isinstance(value, dict):
        return {key: _utc(item) if key.startswith("$") else item for key, item in value.items()}
    if isinstance(value, str):
        try:
            return CONVERTERS[datetime](value)
        except ValueError:
            return value  # the field says what is wrong (400)
    return value


def _datetimes(doc: Any, depth: int = 0) -> Any:
    if not isinstance(doc, dict) or depth > MAX_DEPTH:
        return doc
    result = {}
    for key, value in doc.items():
        if key in ("$and", "$or", "$nor") and isinstance(value, list):
            result[key] = [_datetimes(item, depth + 1) for item in value]
        elif key in DATETIME_KEYS:
            result[key] = _utc(value)
        else:
            result[key] = value
    return result


def apply_filter(queryset: QuerySet, raw: Any) -> QuerySet:
    """``filter`` as core4 clients send it; values the columns cannot hold are a 400."""
    if isinstance(raw, str) and raw.strip().startswith("{"):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise BadRequest(f"Can not parse filter {raw.strip()[:200]}: {exc}") from exc
    try:
        return JOB_FILTER.apply(queryset, _datetimes(raw))
    except (ValueError, TypeError, OverflowError, ValidationError) as exc:
        message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
        raise BadRequest(f"invalid filter value: {message[:200]}") from exc


def _pairs(raw: Any) -> list[tuple[str, int]]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise BadRequest(f"parameter [sort] is not valid JSON: {exc}") from exc
    if not isinstance(raw, list):
        raise BadRequest("parameter [sort] expects a field name or a list of [field, 1|-1]")
    pairs = []
    for entry in raw:
        item = [entry, 1] if isinstance(entry, str) else entry
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not isinstance(item[0], str)
            or item[1] not in (1, -1)
            or isinstance(item[1], bool)
        ):
            raise BadRequest("parameter [sort] expects a list of [field, 1|-1]")
        pairs.append((item[0], item[1]))
    return pairs


def sort_pairs(request) -> list[tuple[str, int]]:
    """``sort`` as core4's job API takes it (``[["_id", 1]]``), or a field name + ``order``."""
    raw = argument(request, "sort", None)
    if raw in (None, "", []):
        return [("_id", 1)]
    if isinstance(raw, str) and not raw.lstrip().startswith("["):
        order = argument(request, "order", 1, int)
        if order not in (1, -1):
            raise BadRequest("parameter [order] must be 1 or -1")
        return [(raw.strip(), order)]
    return _pairs(raw)


def apply_sort(queryset: QuerySet, pairs: list[tuple[str, int]]) -> QuerySet:
    ordering = []
    for key, direction in pairs:
        if key not in SORT_FIELDS:
            raise BadRequest(f"cannot sort by [{key[:100]}], use one of {sorted(SORT_FIELDS)}")
        field = SORT_FIELDS[key]
        ordering.append(field if direction == 1 else f"-{field}")
    if "id" not in {o.lstrip("-") for o in ordering}:
        ordering.append("id")
    return queryset.order_by(*ordering)
