"""``/core4/api/v1/schedule``: schedules managed at run time (``jobqueue.schedules``).

Part of the job API (``api://core4.api.v1.request.job.JobRequest``: ``r`` reads, ``c``
creates and runs now, ``u`` updates, ``d`` deletes), then per schedule the ``job://``
permission of its job: ``job://<name>/r`` to see it, ``job://<name>/x`` (or ``cop``) to
create, change, delete or run it. Schedules of jobs the user may not read are left out of
the listing (and its totals) altogether; their detail and every action are 403 naming only
the id. Class schedules (``source: class``) are listed read-only.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from core4api.arguments import argument, arguments
from core4api.exceptions import BadRequest, Forbidden
from core4api.filters import Field, to_datetime
from core4api.ids import isoformat
from core4api.openapi import ERROR, FILTER, PAGE, PER_PAGE, envelope, paged, path, query
from jobqueue import schedules
from jobqueue.api import openapi
from jobqueue.api.errors import job_errors
from jobqueue.api.views import ORDER, JobView
from jobqueue.models import Schedule

SCHEDULE_FIELDS = {
    "_id": Field("id"),
    "name": Field("name"),
    "qual_name": Field("name"),
    "cron": Field("cron"),
    "interval": Field("interval", "value"),
    "timezone": Field("timezone"),
    "enabled": Field("enabled", "value"),
    "source": Field("source"),
    "next_run": Field("next_run", "value", convert=to_datetime),
    "last_run": Field("last_run", "value", convert=to_datetime),
    "last_outcome": Field("last_outcome"),
    "last_job_id": Field("last_job_id"),
    "created_by": Field("created_by"),
    "created_at": Field("created_at", "value", convert=to_datetime),
    "updated_at": Field("updated_at", "value", convert=to_datetime),
}
SCHEDULE_SORT = {
    "_id": "id",
    "name": "name",
    "qual_name": "name",
    "enabled": "enabled",
    "source": "source",
    "timezone": "timezone",
    "next_run": "next_run",
    "last_run": "last_run",
    "last_outcome": "last_outcome",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
#: Arguments that are no schedule field: credentials, the pager, the etag.
RESERVED = {"token", "username", "password", "etag", "page", "per_page", "filter", "sort", "order"}
FIELD_TYPES: dict[str, type] = {
    "name": str,
    "args": dict,
    "cron": str,
    "interval": int,
    "timezone": str,
    "enabled": bool,
    "reason": str,
}

ID = path("id", "the schedule's id (24 hex digits)")
SORT = query(
    "sort",
    str,
    'JSON list of `[field, 1|-1]` (default `[["_id", 1]]`) or one field name with `order`; '
    f"fields `{' '.join(SCHEDULE_SORT)}`",
)


def schedule_document(schedule: Schedule) -> dict[str, Any]:
    return {
        "_id": schedule.id,
        "name": schedule.name,
        "args": schedule.args,
        "cron": schedule.cron or None,
        "interval": schedule.interval,
        "timezone": schedule.timezone,
        "schedule": schedules.describe(schedule),
        "enabled": schedule.enabled,
        "reason": schedule.reason,
        "source": schedule.source,
        "next_run": isoformat(schedule.next_run),
        "last_run": isoformat(schedule.last_run),
        "last_outcome": schedule.last_outcome or None,
        "last_job_id": schedule.last_job_id,
        "created_at": isoformat(schedule.created_at),
        "created_by": schedule.created_by,
        "updated_at": isoformat(schedule.updated_at),
        "etag": schedule.etag,
    }


def given_fields(request) -> dict[str, Any]:
    """The schedule fields among the request's arguments (query text converted; ``null``
    kept for ``cron``/``interval``/``reason``); anything unknown is a 400."""
    given = arguments(request)
    unknown = sorted(str(k) for k in given if k not in FIELD_TYPES and k not in RESERVED)
    if unknown:
        raise BadRequest(
            f"unknown parameter [{unknown[0][:100]}]: schedule fields are {list(FIELD_TYPES)}"
        )
    fields: dict[str, Any] = {}
    for key, kind in FIELD_TYPES.items():
        if key not in given:
            continue
        value = given[key]
        if value is None and key in ("cron", "interval", "reason"):
            fields[key] = None
        elif isinstance(value, str) and kind is not str or key in ("args", "enabled"):
            fields[key] = argument(request, key, as_type=kind)
        else:
            fields[key] = value  # the service says what is wrong with it, naming the field
    return fields


class ScheduleView(JobView):
    filter_fields = SCHEDULE_FIELDS
    search_fields = ("name",)
    sort_fields = SCHEDULE_SORT
    default_sort = (("_id", 1),)

    def readable(self, schedule_id: str) -> Schedule:
        with job_errors():
            schedule = schedules.get(schedule_id)
        if not self.access.can_read_job(schedule.name):
            raise Forbidden(f"no permission to access schedule [{schedule.id}]")
        return schedule

    def executable(self, schedule_id: str) -> Schedule:
        schedule = self.readable(schedule_id)
        self.may_execute(schedule.name, schedule.id)
        return schedule

    def may_execute(self, name: object, schedule_id: str | None = None) -> None:
        if not isinstance(name, str) or not self.access.can_execute_job(name):
            which = f" ([{schedule_id}])" if schedule_id else ""
            raise Forbidden(f"no permission to execute job [{str(name)[:255]}]{which}")


class ScheduleListView(ScheduleView):
    """``GET /schedule`` lists, ``POST /schedule`` creates."""

    @extend_schema(
        summary="Schedules, paged",
        description="Runtime and class schedules of the jobs the user may read "
        "(`job://<name>/r`); others are left out and do not count in `total_count`. "
        "`filter`/`sort` as `/job`.",
        parameters=[PAGE, PER_PAGE, FILTER, SORT, ORDER],
        responses={200: paged(openapi.SCHEDULE)},
    )
    def get(self, request) -> Response:
        access = self.access
        queryset = Schedule.objects.all()
        if not access.is_admin:
            names = Schedule.objects.order_by().values_list("name", flat=True).distinct()
            queryset = queryset.filter(name__in=[n for n in names if access.can_read_job(n)])
        return self.paginate(self.filter_queryset(queryset), schedule_document)

    @extend_schema(
        summary="Create a schedule",
        description="Needs `job://<name>/x` (or `cop`). `name` must be a registered job "
        "class (404 otherwise), `args` are checked as an enqueue checks them, and exactly "
        "one of `cron` (five fields, evaluated in `timezone`) and `interval` (seconds) is "
        "given. `data` is the new schedule, with `next_run` (UTC).",
        request=openapi.SCHEDULE_BODY,
        responses={
            (200, "application/json"): envelope(openapi.SCHEDULE),
            (404, "application/json"): OpenApiResponse(ERROR, "no such job class"),
        },
    )
    def post(self, request) -> Response:
        fields = given_fields(request)
        name = fields.pop("name", None)
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("parameter [name] must be a qualified job name module.Class")
        self.may_execute(name)
        with job_errors():
            schedule = schedules.create(name, by=self.by, **fields)
        return Response(schedule_document(schedule))


def etag_argument(request) -> Any:
    etag = argument(request, "etag")
    if isinstance(etag, bool) or not isinstance(etag, (int, str)):
        raise BadRequest("parameter [etag] expected the schedule's etag (an integer)")
    return etag


class ScheduleDetailView(ScheduleView):
    """``GET|PUT|DELETE /schedule/<id>``."""

    @extend_schema(
        summary="A schedule", parameters=[ID], responses={200: envelope(openapi.SCHEDULE)}
    )
    def get(self, request, id: str) -> Response:
        return Response(schedule_document(self.readable(id)))

    @extend_schema(
        summary="Update a schedule (needs the current etag)",
        description="Needs `job://<name>/x` for the schedule's job (and for a new `name`). "
        "Send the fields to change and `etag`; a stale etag is a 400 `update [<id>] with "
        "etag [<etag>] failed`, nothing changed replies `no changes`. The result must have "
        "exactly one of `cron` and `interval` (send `null` for the other to switch). "
        "`enabled: false` with a `reason` disables it. Class schedules are read-only (400).",
        parameters=[ID],
        request=openapi.SCHEDULE_UPDATE_BODY,
        responses={
            (200, "application/json"): envelope(
                {"oneOf": [openapi.SCHEDULE, {"type": "string", "enum": ["no changes"]}]}
            ),
        },
    )
    def put(self, request, id: str) -> Response:
        schedule = self.executable(id)
        etag = etag_argument(request)
        fields = given_fields(request)
        if "name" in fields and not isinstance(fields["name"], str):
            raise BadRequest("parameter [name] must be a qualified job name module.Class")
        if "name" in fields and fields["name"] != schedule.name:
            self.may_execute(fields["name"])
        with job_errors():
            updated = schedules.update(schedule.id, etag, by=self.by, **fields)
        if updated is None:
            return Response("no changes")
        return Response(schedule_document(updated))

    @extend_schema(
        summary="Delete a schedule (needs the current etag)",
        parameters=[ID, query("etag", int, "the current etag (optimistic locking)")],
        request=None,
        responses={(200, "application/json"): envelope({"type": "boolean", "enum": [True]})},
    )
    def delete(self, request, id: str) -> Response:
        schedule = self.executable(id)
        with job_errors():
            schedules.delete(schedule.id, etag_argument(request), by=self.by)
        return Response(True)


class ScheduleRunView(ScheduleView):
    """``POST /schedule/<id>/run``: enqueue the schedule's job now."""

    @extend_schema(
        summary="Run a schedule now",
        description="Needs `job://<name>/x`. Enqueues the schedule's job with its arguments "
        "now (also a disabled or class schedule); `next_run` stays. `data` is the new job's "
        "id; a 400 says why not (e.g. the same job is still unfinished), recorded as the "
        "schedule's `last_outcome`.",
        parameters=[ID],
        request=None,
        responses={(200, "application/json"): envelope({"type": "string"}, "the new job's id")},
    )
    def post(self, request, id: str) -> Response:
        schedule = self.executable(id)
        with job_errors():
            job = schedules.run_now(schedule.id, by=self.by)
        return Response(job.id)
