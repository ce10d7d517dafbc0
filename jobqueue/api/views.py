"""``/core4/api/v1/job*`` (core4's ``JobRequest``) and ``/core4/api/v1/system``.

Permissions: ``api://`` by the views' ``core4_name`` (automatic), then per job
``job://<regex>/r`` to see a job and ``job://<regex>/x`` to enqueue, kill, remove or restart
it. A job the user may not read is listed as ``UnauthorizedJob`` without arguments; its
detail, stream, log and every action on it are 403 with a message that names only its id.
"""

from __future__ import annotations

import re
from datetime import datetime
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from accounts.api_permissions import access_of
from accounts.revocation import stream_guard
from core4api.arguments import argument, arguments
from core4api.exceptions import BadRequest, Core4Error, Forbidden, error_response
from core4api.filters import Core4Filter, Core4Sort
from core4api.ids import isoformat, utcnow
from core4api.limits import limit, too_big
from core4api.openapi import (
    ERROR,
    FILTER,
    PAGE,
    PER_PAGE,
    SSE,
    envelope,
    paged,
    path,
    query,
)
from core4api.views import Core4APIView
from jobqueue import cron, public, services
from jobqueue.api import openapi
from jobqueue.api.errors import job_errors
from jobqueue.api.presenters import job_document, log_item, output_lines, worker_document
from jobqueue.api.queries import (
    JOB_FIELDS,
    JOB_SEARCH,
    JOURNAL_FIELDS,
    JOURNAL_SORT_FIELDS,
    MAX_SEARCH,
    SORT_FIELDS,
    masked_journal,
    masked_queue,
    search,
)
from jobqueue.api.streaming import event_stream, follow_job
from jobqueue.errors import JobExists
from jobqueue.job import SETTINGS
from jobqueue.models import Job, Schedule
from jobqueue.registry import MAX_NAME_LENGTH, JobEntry, registry
from jobqueue.states import RUNNING

JOB_HANDLER = "core4.api.v1.request.job.JobRequest"
SYSTEM_HANDLER = "core4.api.v1.request.standard.system.SystemHandler"

#: Top-level enqueue arguments that are neither settings nor job arguments.
ENQUEUE_RESERVED = {"qual_name", "args", "follow", "token", "username", "password"}
#: Keys of one job of ``POST /job/bulk`` besides the settings.
BULK_KEYS = {"qual_name", "args"}
SETTING_TYPES: dict[str, type] = {key: int for key in SETTINGS} | {"force": bool, "worker": str}

ID = path("id", "the job's id (24 hex digits)")
FOLLOW = query("follow", bool, "stream the job as server-sent events (`text/event-stream`)")
SORT = query(
    "sort",
    str,
    'JSON list of `[field, 1|-1]` (default `[["_id", 1]]`) or one field name with `order`; '
    "fields `_id qual_name state priority force trial attempts_left enqueued.at started_at "
    "prog.value query_at`",
)
JOURNAL_SORT = query(
    "sort",
    str,
    'JSON list of `[field, 1|-1]` (default `[["ended_at", -1]]`, the latest first) or one '
    "field name with `order`; fields those of `/job` and `ended_at journaled_at finished_at "
    "runtime journal`",
)
ORDER = query("order", int, "1 ascending, -1 descending (with a field name in `sort`)")
SEARCH = query(
    "search",
    {"type": "string", "maxLength": MAX_SEARCH},
    "case-insensitive text in the id, the name or the arguments (JSON) of the job; "
    "combined with `filter`",
)
STREAM_RESPONSES = {(200, "text/event-stream"): SSE}


class JobView(Core4APIView):
    core4_name = JOB_HANDLER
    #: the listing filters and sorts masked columns: hidden names never shape a reply
    filter_backends = (Core4Filter, Core4Sort)
    filter_fields = JOB_FIELDS
    search_fields = JOB_SEARCH
    sort_fields = SORT_FIELDS
    default_sort = (("_id", 1),)

    @property
    def access(self):
        return access_of(self.request.user)

    @property
    def by(self) -> str:
        return self.request.user.name

    def readable_job(self, job_id: str) -> Job:
        """The job, if the user may read it: 404 unknown, 403 (naming only the id)."""
        with job_errors():
            job = services.get_job(job_id)
        if not self.access.can_read_job(job.name):
            raise Forbidden(f"no permission to access job [{job.id}]")
        return job

    def executable_job(self, job_id: str) -> Job:
        job = self.readable_job(job_id)
        if not self.access.can_execute_job(job.name):
            raise Forbidden(f"no permission to execute job [{job.name}] ([{job.id}])")
        return job

    def follow(self, job_id: str, **options: Any):
        request = self.request
        guard = stream_guard(request.user, request.auth, (self.core4_name, "GET"))
        return event_stream(follow_job(job_id, guard=guard, **options))

    def list_jobs(self, request, journal: bool = False) -> Response:
        access = self.access
        queryset = masked_journal(access) if journal else masked_queue(access)
        queryset = self.filter_queryset(search(request, queryset))
        # the items carry neither the output nor the result (up to 1 MB / 64 KiB each)
        queryset = queryset.defer("stdout", "result")
        can_read = lru_cache(maxsize=None)(access.can_read_job)
        now = utcnow()
        try:
            return self.paginate(queryset, lambda job: job_document(job, can_read(job.name), now))
        except OverflowError as exc:  # SQLite: a filter number beyond 64 bits
            raise BadRequest(f"invalid filter value: {exc}") from exc


_LIST = extend_schema(
    summary="Unfinished jobs, paged",
    description="Jobs the user may not read are listed as `UnauthorizedJob` without "
    "arguments (and count in `total_count`); filters, search and sort on `qual_name`/`args` "
    "see only what the user may read. Finished jobs: `/job/journal`.",
    parameters=[PAGE, PER_PAGE, FILTER, SORT, ORDER, SEARCH],
    request={"application/json": openapi.LIST_BODY},
    responses={200: paged(openapi.JOB)},
)


class JobListView(JobView):
    """``GET /job`` lists the queue; ``POST /job`` enqueues."""

    @_LIST
    def get(self, request) -> Response:
        return self.list_jobs(request)

    @extend_schema(
        summary="Enqueue a job",
        description="Needs `job://<qual_name>/x`. `data` is the new job's id; with "
        "`follow: true` the reply is a stream of server-sent events instead. Top-level keys "
        "other than `qual_name`, `args`, `follow` must be job settings.",
        request={"application/json": openapi.ENQUEUE_BODY},
        responses={
            (200, "application/json"): envelope({"type": "string"}, "the new job's id"),
            **STREAM_RESPONSES,
            (404, "application/json"): OpenApiResponse(ERROR, "no such job class"),
        },
    )
    def post(self, request) -> Response:
        qual_name = argument(request, "qual_name", as_type=str)
        if not qual_name.strip():
            raise BadRequest("parameter [qual_name] must be a qualified name module.Class")
        if not self.access.can_execute_job(qual_name):
            raise Forbidden(f"no permission to execute job [{qual_name[:255]}]")
        job_args = argument(request, "args", {}, dict)
        settings = enqueue_settings(request)
        follow = argument(request, "follow", False, bool)
        with job_errors():
            job_id = public.enqueue(qual_name, by=self.by, args=job_args, **settings)
        if follow:
            return self.follow(job_id)
        return Response(job_id)


class JobRegistryView(JobView):
    """``GET /job/list``: the registered job classes the user may read (core4's ``sys.job``)."""

    @extend_schema(
        summary="Registered job classes, paged",
        description="The classes found at start-up in `CORE4_JOB_PACKAGES` and the apps' "
        "`jobs` modules; only those the user may read (`job://<qual_name>/r`). `search` "
        "matches the qualified name with wildcards `*` and `?`, case-insensitive.",
        parameters=[
            PAGE,
            PER_PAGE,
            query(
                "search",
                {"type": "string", "maxLength": MAX_NAME_LENGTH},
                "wildcard pattern on the qualified name",
            ),
        ],
        responses={200: paged(openapi.JOB_CLASS)},
    )
    def get(self, request) -> Response:
        search = argument(request, "search", "", str)
        if len(search) > MAX_NAME_LENGTH:
            raise BadRequest(f"parameter [search] longer than {MAX_NAME_LENGTH} characters")
        pattern = search.lower() if any(c in search for c in "*?") else f"*{search.lower()}*"
        access = self.access
        entries = [
            entry
            for entry in registry()
            if access.can_read_job(entry.qual_name)
            and fnmatchcase(entry.qual_name.lower(), pattern.replace("[", "[[]"))
        ]
        rows = {
            row.name: row
            for row in Schedule.objects.filter(source=Schedule.CLASS).only(
                "name", "next_run", "enabled"
            )
        }
        now = utcnow()
        return self.paginate(entries, lambda entry: job_class_document(entry, rows, now))


def class_schedule(entry: JobEntry) -> str | None:
    """The class's own ``schedule`` (not inherited, as in core4), or None."""
    value = entry.cls.__dict__.get("schedule")
    return value if isinstance(value, str) and value.strip() else None


def class_next_run(entry: JobEntry, rows: dict[str, Schedule], now: datetime) -> datetime | None:
    """When the class's schedule is due next: its class ``Schedule`` row's ``next_run`` if
    the scheduler keeps one, else computed from the cron expression (UTC); None without a
    valid schedule."""
    schedule = class_schedule(entry)
    if schedule is None or not entry.valid:
        return None
    row = rows.get(entry.qual_name)
    if row is not None:
        return row.next_run if row.enabled else None
    try:
        return cron.next_after(now, cron=cron.validate_cron(schedule))
    except ValueError:
        return None


def job_class_document(
    entry: JobEntry, rows: dict[str, Schedule] | None = None, now: datetime | None = None
) -> dict[str, Any]:
    return {
        "_id": entry.qual_name,
        "qual_name": entry.qual_name,
        "author": entry.author,
        "doc": entry.doc,
        "valid": entry.valid,
        "error": entry.error,
        "aliases": list(entry.aliases),
        "settings": entry.settings(),
        "schedule": class_schedule(entry),
        "next_run": isoformat(class_next_run(entry, rows or {}, now or utcnow())),
    }


class JobQueueView(JobView):
    """``GET|POST /job/queue``: the listing (core4 accepts both methods)."""

    @_LIST
    def get(self, request) -> Response:
        return self.list_jobs(request)

    @_LIST
    def post(self, request) -> Response:
        return self.list_jobs(request)


class JobJournalView(JobView):
    """``GET|POST /job/journal``: finished jobs, the latest first, within the retention."""

    filter_fields = JOURNAL_FIELDS
    sort_fields = JOURNAL_SORT_FIELDS
    default_sort = (("ended_at", -1),)

    _JOURNAL = extend_schema(
        summary="Finished jobs, paged (the latest first)",
        description="Jobs that completed, were removed or restarted (`journal: true`, kept "
        "`CORE4_JOB_RETENTION_DAYS` after they left the queue), and jobs stopped for good "
        "that are still in the queue (`error`, `killed`, `inactive`: also in `/job` until "
        "restarted or removed). `ended_at` is when the job left the queue, or when it "
        "stopped; filter a time range with e.g. "
        '`{"ended_at": {"$gte": "2026-11-29T00:00:00", "$lt": "2026-11-30T00:00:00"}}` (UTC). '
        "Masked as `/job`: jobs the user may not read are `UnauthorizedJob`, and filters, "
        "search and sort on name or arguments see only what the user may read.",
        parameters=[PAGE, PER_PAGE, FILTER, JOURNAL_SORT, ORDER, SEARCH],
        request={"application/json": openapi.LIST_BODY},
        responses={200: paged(openapi.JOB)},
    )

    @_JOURNAL
    def get(self, request) -> Response:
        return self.list_jobs(request, journal=True)

    @_JOURNAL
    def post(self, request) -> Response:
        return self.list_jobs(request, journal=True)


class JobDetailView(JobView):
    """``GET /job/<id>`` and ``GET /job/detail/<id>``."""

    @extend_schema(
        summary="A job, unfinished or finished (`journal`)",
        parameters=[ID],
        responses={200: envelope(openapi.JOB)},
    )
    def get(self, request, id: str) -> Response:  # `id`: core4's name
        return Response(job_document(self.readable_job(id), readable=True, result=True))


class JobFollowView(JobView):
    """``GET /job/follow/<id>``: server-sent events until the job is final."""

    @extend_schema(
        summary="Follow a job: server-sent events `state`, `log`, `close`",
        parameters=[ID],
        responses=STREAM_RESPONSES,
    )
    def get(self, request, id: str):
        return self.follow(self.readable_job(id).id)


class JobLogView(JobView):
    """``GET /job/log/<id>``: the job's captured output, paged, or followed."""

    @extend_schema(
        summary="The job's captured output and log lines, paged (or streamed with `follow`)",
        parameters=[ID, PAGE, PER_PAGE, FOLLOW],
        responses={(200, "application/json"): paged(openapi.LOG_LINE), **STREAM_RESPONSES},
    )
    def get(self, request, id: str):
        job = self.readable_job(id)
        if argument(request, "follow", False, bool):
            return self.follow(job.id, states=False)
        lines = list(enumerate(output_lines(job.stdout)))
        return self.paginate(lines, lambda item: log_item(job, item[0], item[1]))


ACTIONS = ("kill", "remove", "restart")


class JobActionView(JobView):
    """``PUT /job/kill|remove|restart/<id>``; other actions are 405 as in core4."""

    @extend_schema(
        summary="Kill (running jobs), remove (any unfinished job) or restart a job",
        description="Needs `job://<qual_name>/x`. kill and remove reply `true`; restart "
        "replies the id of the job that will run (the same id for a deferred/failed job, a "
        "new one for a killed/inactive/error job), or streams it with `follow: true`.",
        parameters=[
            path("action", "kill, remove or restart"),
            ID,
            query("follow", bool, "restart only: stream the restarted job"),
        ],
        request={"application/json": openapi.FOLLOW_BODY},
        responses={
            (200, "application/json"): envelope(
                {"oneOf": [{"type": "boolean", "enum": [True]}, {"type": "string"}]},
                "kill/remove: true; restart: the id of the job that will run",
            ),
            **STREAM_RESPONSES,
            (405, "application/json"): OpenApiResponse(ERROR, "unknown action"),
        },
    )
    def put(self, request, action: str, id: str):
        if action not in ACTIONS:
            return self.unknown_action(request, action)
        job = self.executable_job(id)
        with job_errors():
            if action == "kill":
                services.kill(job.id, by=self.by)
                return Response(True)
            if action == "remove":
                services.remove(job.id, by=self.by)
                return Response(True)
            restarted = services.restart(job.id, by=self.by)
        if argument(request, "follow", False, bool):
            return self.follow(restarted.id)
        return Response(restarted.id)

    def unknown_action(self, request, action: str) -> Response:
        return error_response(405, f"unknown action {request.method} [{action[:100]}]")


class JobBulkView(JobView):
    """``PUT /job/bulk``: one action on many jobs, each checked and done on its own;
    ``POST /job/bulk``: enqueue many jobs in one transaction."""

    @extend_schema(
        summary="Kill, remove or restart many jobs, with a result per job",
        description="`ids` lists at most `CORE4_JOB_BULK_MAX` job ids (default 100; more is "
        "a 400 naming the setting). Each job is checked (`job://<qual_name>/x`) and acted "
        "on separately, as `PUT /job/<action>/<id>` would: one that fails does not stop "
        "the others. `data` maps every id to `{ok: true, data}` (`data` as the single "
        "action replies: `true`, or restart's id of the job that will run) or "
        "`{ok: false, code, error}` (403 not allowed, 404 unknown or finished, 400 not "
        "possible in its state); an error names only the id of a job the user may not read.",
        request={"application/json": openapi.BULK_BODY},
        responses={
            (200, "application/json"): envelope(openapi.BULK_RESULT),
            (400, "application/json"): OpenApiResponse(
                ERROR, "unknown action, bad or too many ids"
            ),
        },
    )
    def put(self, request) -> Response:
        action = argument(request, "action", as_type=str)
        if action not in ACTIONS:
            raise BadRequest(f"parameter [action] must be one of {list(ACTIONS)}")
        ids = argument(request, "ids", as_type=list)
        maximum = limit("CORE4_JOB_BULK_MAX")
        if len(ids) > maximum:
            raise too_big(f"{len(ids)} ids", "CORE4_JOB_BULK_MAX")
        if not all(isinstance(job_id, str) and 0 < len(job_id) <= 64 for job_id in ids):
            raise BadRequest("parameter [ids] must be a list of job ids")
        results: dict[str, dict[str, Any]] = {}
        for job_id in dict.fromkeys(ids):
            try:
                results[job_id] = {"ok": True, "data": self.act_on(action, job_id)}
            except Core4Error as exc:
                results[job_id] = {"ok": False, "code": exc.status_code, "error": exc.error}
        return Response(results)

    @extend_schema(
        summary="Enqueue many jobs in one transaction",
        description="`jobs` lists at most `CORE4_ENQUEUE_MANY_MAX` jobs (default 10000; more "
        "is a 400 naming the setting), each as the body of `POST /job` (without `follow`). "
        "Needs `job://<qual_name>/x` for every `qual_name`; one the user may not execute is "
        "a 403, one that is invalid a 400 (404: no such job class) naming its index, and "
        "then nothing is enqueued. Otherwise all new jobs are enqueued in one transaction, "
        "each with its `enqueue_job` event in the order sent; `data` has a result per job: "
        "its id, or `ok: false` where it exists already (nothing is enqueued twice).",
        request={"application/json": openapi.ENQUEUE_MANY_BODY},
        responses={
            (200, "application/json"): envelope(openapi.ENQUEUE_MANY_RESULT),
            (400, "application/json"): OpenApiResponse(ERROR, "bad, too many or invalid jobs"),
            (404, "application/json"): OpenApiResponse(ERROR, "no such job class"),
        },
    )
    def post(self, request) -> Response:
        jobs = argument(request, "jobs", as_type=list)
        maximum = limit("CORE4_ENQUEUE_MANY_MAX")
        if len(jobs) > maximum:
            raise too_big(f"{len(jobs)} jobs", "CORE4_ENQUEUE_MANY_MAX")
        allowed = lru_cache(maxsize=None)(self.access.can_execute_job)
        items = []
        for index, job in enumerate(jobs):
            if not isinstance(job, dict):
                raise BadRequest(f"jobs[{index}]: expected an object with qual_name")
            unknown = sorted(str(k) for k in job if k not in SETTINGS and k not in BULK_KEYS)
            if unknown:
                raise BadRequest(
                    f"jobs[{index}]: unknown parameter [{unknown[0][:100]}]: job arguments go "
                    f"into [args], settings are {sorted(SETTINGS)}"
                )
            qual_name = job.get("qual_name")
            if not isinstance(qual_name, str) or not qual_name.strip():
                raise BadRequest(
                    f"jobs[{index}]: parameter [qual_name] must be a qualified name module.Class"
                )
            if not allowed(qual_name):
                raise Forbidden(f"no permission to execute job [{qual_name[:255]}]")
            if not isinstance(job.get("args", {}), dict):
                raise BadRequest(f"jobs[{index}]: parameter [args] must be an object")
            items.append(job)
        with job_errors():
            created = services.enqueue_many(items, by=self.by)
        return Response(
            [
                {"ok": True, "data": job.id}
                if job is not None
                else {
                    "ok": False,
                    "code": 400,
                    "error": str(JobExists(item["qual_name"], item.get("args", {}))),
                }
                for item, job in zip(items, created, strict=True)
            ]
        )

    def act_on(self, action: str, job_id: str) -> bool | str:
        job = self.executable_job(job_id)
        with job_errors():
            if action == "kill":
                services.kill(job.id, by=self.by)
                return True
            if action == "remove":
                services.remove(job.id, by=self.by)
                return True
            return services.restart(job.id, by=self.by).id


class SystemView(Core4APIView):
    """``GET /system``: live workers with their running jobs, and the maintenance state."""

    core4_name = SYSTEM_HANDLER

    @extend_schema(
        summary="Live workers and maintenance state",
        responses={200: envelope(openapi.SYSTEM)},
    )
    def get(self, request) -> Response:
        access = access_of(request.user)
        workers = services.alive_workers()
        running: dict[str, list[Job]] = {w.identifier: [] for w in workers}
        jobs = (
            Job.objects.filter(journaled=False, state=RUNNING, locked_by__in=list(running))
            .only("id", "name", "locked_by", "started_at", "prog_value")
            .order_by("started_at", "id")
        )
        for job in jobs:
            running[job.locked_by].append(job)
        can_read = lru_cache(maxsize=None)(access.can_read_job)
        maintenance = services.maintenance()
        modes = services.worker_modes()
        return Response(
            {
                "alive": [
                    worker_document(
                        w, running[w.identifier], can_read, modes.get(w.identifier, services.ACTIVE)
                    )
                    for w in workers
                ],
                "maintenance": {
                    "system": maintenance["paused"],
                    "project": maintenance["projects"],
                },
            }
        )


PROJECT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
MAINTENANCE_ACTIONS = {"pause": services.pause, "resume": services.resume}


class MaintenanceView(Core4APIView):
    """``PUT /system/pause`` and ``/system/resume``: stop or restart picking jobs.

    Without ``project`` for the whole queue (administrators, ``cop``); with ``project`` (the
    first part of job names) for users who may execute that project's jobs
    (``job://<project>…/x``). Running jobs are not touched.
    """

    core4_name = SYSTEM_HANDLER

    @extend_schema(
        summary="Pause or resume picking, for all jobs or one project",
        parameters=[
            path("action", "`pause` or `resume`"),
            query("project", str, "first part of job names; none = the whole queue"),
        ],
        request=None,
        responses={
            200: envelope(openapi.MAINTENANCE),
            (400, "application/json"): OpenApiResponse(ERROR, "invalid project name"),
            (403, "application/json"): OpenApiResponse(ERROR, "not allowed"),
            (405, "application/json"): OpenApiResponse(ERROR, "unknown action"),
        },
    )
    def put(self, request, action: str) -> Response:
        change = MAINTENANCE_ACTIONS.get(action)
        if change is None:
            return error_response(405, f"unknown action {request.method} [{action[:100]}]")
        project = argument(request, "project", None, str)
        access = access_of(request.user)
        if project is None:
            if not access.is_admin:
                raise Forbidden(f"to {action} the whole queue you need cop")
        elif not PROJECT_NAME.match(project):
            raise BadRequest("parameter [project] must be the first part of a job name")
        elif not access.can_execute_job(project + "."):
            raise Forbidden(f"to {action} project [{project}] you need job://{project}.*/x")
        changed = change(project, by=request.user.name)
        state = services.maintenance()
        return Response(
            {"changed": changed, "system": state["paused"], "project": state["projects"]}
        )


class WorkerControlView(Core4APIView):
    """``PUT /system/worker/<identifier>/quiet|stop|resume``: one worker stops picking jobs,
    stops gracefully, or picks again (administrators, ``cop``)."""

    core4_name = SYSTEM_HANDLER

    @extend_schema(
        summary="Quiet, stop or resume one worker",
        description="`quiet`: the worker stops picking jobs, its running jobs go on. `stop`: "
        "it stops gracefully, as on SIGTERM — no more picking, running jobs may end within "
        "`CORE4_WORKER_GRACE` seconds, then they are ended and retried (the attempt does not "
        "count). `resume`: it picks again (undoes `quiet`; a stop cannot be undone: 400). "
        "The worker reads it within a second. Needs `cop`.",
        parameters=[
            path("identifier", "the worker's identifier (`GET /system`: `alive[].identifier`)"),
            path("action", "`quiet`, `stop` or `resume`"),
        ],
        request=None,
        responses={
            200: envelope(openapi.WORKER_CONTROL),
            (400, "application/json"): OpenApiResponse(ERROR, "a stopping worker cannot resume"),
            (403, "application/json"): OpenApiResponse(ERROR, "not allowed (needs cop)"),
            (404, "application/json"): OpenApiResponse(ERROR, "no such live worker"),
            (405, "application/json"): OpenApiResponse(ERROR, "unknown action"),
        },
    )
    def put(self, request, identifier: str, action: str) -> Response:
        if action not in services.WORKER_ACTIONS:
            return error_response(405, f"unknown action {request.method} [{action[:100]}]")
        if not access_of(request.user).is_admin:
            raise Forbidden(f"to {action} a worker you need cop")
        with job_errors():
            changed, mode = services.control_worker(identifier, action, by=request.user.name)
        return Response({"identifier": identifier, "mode": mode, "changed": changed})


def enqueue_settings(request) -> dict[str, Any]:
    """Job settings from the top-level arguments; anything unknown is a 400.

    Query-string values are text and converted (``priority=5``, ``force=yes``); JSON values
    go to the queue's validators as they are, so ``"worker": false`` or ``"priority": 1.5``
    are refused there with a message that names the setting.
    """
    given = arguments(request)
    unknown = sorted(str(k) for k in given if k not in SETTINGS and k not in ENQUEUE_RESERVED)
    if unknown:
        raise BadRequest(
            f"unknown parameter [{unknown[0][:100]}]: job arguments go into [args], "
            f"settings are {sorted(SETTINGS)}"
        )
    settings = {}
    for key, kind in SETTING_TYPES.items():
        if key not in given:
            continue
        value = given[key]
        if isinstance(value, str) and kind is not str:
            # a backoff spec in the query string is JSON
            spec = key == "error_time" and value.lstrip().startswith("{")
            value = argument(request, key, as_type=dict if spec else kind)
        settings[key] = value
    return settings
