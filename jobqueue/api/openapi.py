"""OpenAPI descriptions of the job API's data (used by ``views``' ``extend_schema``)."""

from __future__ import annotations

from core4api.openapi import ANY, component
from jobqueue.api.queries import MAX_SEARCH
from jobqueue.states import HIGHSTATES, STATES

_STR = {"type": "string"}
_NSTR = {"type": "string", "nullable": True}
_NINT = {"type": "integer", "nullable": True}
_NTIME = {"type": "string", "nullable": True, "description": "UTC ISO-8601"}

#: ``error_time``: seconds, or a backoff spec (``jobqueue.backoff``)
BACKOFF = {
    "type": "object",
    "description": "retry backoff: the n-th failure waits min(max, base × factor^(n-1)) s, "
    "spread by ±jitter (a fraction), at most max",
    "properties": {
        "base": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 2**31 - 1},
        "factor": {"type": "number", "minimum": 1, "maximum": 100, "default": 2},
        "max": {
            "type": "number",
            "exclusiveMinimum": True,
            "minimum": 0,
            "maximum": 2**31 - 1,
            "default": 86400,
            "description": "seconds, at least base",
        },
        "jitter": {"type": "number", "minimum": 0, "maximum": 1, "default": 0},
    },
    "required": ["base"],
    "additionalProperties": False,
}
ERROR_TIME = {
    "oneOf": [{"type": "integer", "minimum": 1, "maximum": 2**31 - 1}, BACKOFF],
    "description": "seconds before a failed job is retried, or a backoff spec",
}
TIMEOUT = {
    "type": "integer",
    "minimum": 1,
    "maximum": 2**31 - 1,
    "nullable": True,
    "description": "seconds: a job still running then is killed and fails "
    "(`last_error` `timeout after N s`), retried while attempts are left",
}
RESULT = {
    "nullable": True,
    "description": "what the job's `execute` returned (JSON, at most `CORE4_RESULT_MAX` bytes "
    "encoded); null if nothing. In `GET /job/<id>` and the follow stream's `state` frames only, "
    "not in listings",
}

JOB = component(
    "Job",
    {
        "type": "object",
        "description": "A job as core4 shows it. A job the user may not read shows as "
        "`qual_name: UnauthorizedJob` with `args`, `last_error` and `prog.message` null.",
        "properties": {
            "_id": _STR,
            "qual_name": {"type": "string", "description": "`module.Class` or UnauthorizedJob"},
            "args": {"type": "object", "nullable": True, "additionalProperties": True},
            "state": {"type": "string", "enum": list(STATES)},
            "highstate": {
                "type": "string",
                "enum": list(HIGHSTATES),
                "description": "; ".join(
                    f"{high}: {'/'.join(states)}"
                    for high, states in HIGHSTATES.items()
                    if states != (high,)
                ),
            },
            "journal": {"type": "boolean", "description": "finished (history only)"},
            "journaled_at": {
                "type": "string",
                "nullable": True,
                "description": "UTC ISO-8601: when it left the queue (complete, removed, "
                "restarted); the retention counts from it",
            },
            "ended_at": {
                "type": "string",
                "nullable": True,
                "description": "UTC ISO-8601: when a finished job ended — left the queue, "
                "or stopped for good (error, killed, inactive); null while unfinished",
            },
            "flag": {
                "type": "object",
                "properties": {
                    k: {"type": "boolean"} for k in ("zombie", "killed", "removed", "nonstop")
                },
                "required": ["zombie", "killed", "removed", "nonstop"],
            },
            "age": {"type": "number", "description": "seconds since enqueued"},
            "prog": {
                "type": "object",
                "properties": {"value": {"type": "number"}, "message": _NSTR},
                "required": ["value", "message"],
            },
            "attempts": {"type": "integer"},
            "attempts_left": {"type": "integer"},
            "trial": {"type": "integer"},
            "defer_time": {"type": "integer"},
            "defer_max": {"type": "integer"},
            "error_time": ERROR_TIME,
            "wall_time": _NINT,
            "timeout": TIMEOUT,
            "result": RESULT,
            "zombie_time": {"type": "integer"},
            "max_parallel": {"type": "integer"},
            "priority": {"type": "integer"},
            "force": {"type": "boolean"},
            "progress_interval": {"type": "integer"},
            "worker": _NSTR,
            "enqueued": {
                "type": "object",
                "properties": {
                    "at": _STR,
                    "by": _STR,
                    "hostname": _STR,
                    "parent_id": _NSTR,
                    "child_id": _NSTR,
                    "schedule_id": _NSTR,
                },
                "required": ["at", "by", "hostname", "parent_id", "child_id"],
            },
            "locked": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "worker": _STR,
                    "hostname": _NSTR,
                    "pid": _NINT,
                    "heartbeat": _NTIME,
                },
            },
            "last_error": {
                "type": "object",
                "nullable": True,
                "description": "`{exception, traceback, timestamp}`",
                "additionalProperties": True,
            },
            "runtime": {"type": "number", "nullable": True},
            "run_mode": {
                "type": "string",
                "nullable": True,
                "enum": ["fork", "pool", None],
                "description": "how the worker ran it last: `fork` (its own process) or "
                "`pool` (a reused pool process); null before its first run",
            },
            **{
                key: _NTIME
                for key in (
                    "started_at",
                    "finished_at",
                    "query_at",
                    "inactive_at",
                    "removed_at",
                    "killed_at",
                    "wall_at",
                    "zombie_at",
                )  # fmt: skip
            },
            "links": {
                "type": "object",
                "properties": {"self": _STR, "parent": _NSTR, "child": _NSTR, "log": _STR},
                "required": ["self", "parent", "child", "log"],
            },
        },
        "required": [
            "_id",
            "qual_name",
            "args",
            "state",
            "highstate",
            "journal",
            "flag",
            "age",
            "prog",
            "attempts_left",
            "trial",
            "enqueued",
            "last_error",
            "links",
        ],  # fmt: skip
    },
)

LOG_LINE = component(
    "JobLogLine",
    {
        "type": "object",
        "properties": {
            "identifier": {"type": "string", "description": "the job's id"},
            "qual_name": _STR,
            "lineno": {"type": "integer", "minimum": 0},
            "level": {
                "type": "string",
                "nullable": True,
                "description": "the log level of a line the job's logger wrote",
            },
            "message": {"type": "string", "description": "the line as captured"},
        },
        "required": ["identifier", "qual_name", "lineno", "level", "message"],
        "additionalProperties": False,
    },
)

SYSTEM = component(
    "System",
    {
        "type": "object",
        "properties": {
            "alive": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "identifier": _STR,
                        "mode": {
                            "type": "string",
                            "enum": ["active", "quiet", "stopping"],
                            "description": "quiet: picks no jobs (its running jobs go on); "
                            "stopping: stops gracefully (a signal, halt or "
                            "`PUT /system/worker/<identifier>/stop`)",
                        },
                        "hostname": _STR,
                        "pid": {"type": "integer"},
                        "started": _NTIME,
                        "heartbeat": _NTIME,
                        "concurrency": {"type": "integer"},
                        "running": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "_id": _STR,
                                    "qual_name": _STR,
                                    "started_at": _NTIME,
                                    "prog": {
                                        "type": "object",
                                        "properties": {"value": {"type": "number"}},
                                    },
                                },
                            },
                        },
                    },
                    "required": ["identifier", "mode", "hostname", "pid", "heartbeat", "running"],
                },
            },
            "maintenance": {
                "type": "object",
                "properties": {
                    "system": {"type": "boolean", "description": "all workers paused"},
                    "project": {
                        "type": "array",
                        "items": _STR,
                        "description": "paused projects",
                    },
                },
                "required": ["system", "project"],
            },
        },
        "required": ["alive", "maintenance"],
    },
)

WORKER_CONTROL = component(
    "WorkerControl",
    {
        "type": "object",
        "properties": {
            "identifier": _STR,
            "mode": {"type": "string", "enum": ["active", "quiet", "stopping"]},
            "changed": {"type": "boolean", "description": "false if it was so already"},
        },
        "required": ["identifier", "mode", "changed"],
    },
)

MAINTENANCE = component(
    "Maintenance",
    {
        "type": "object",
        "properties": {
            "changed": {"type": "boolean", "description": "false if it was so already"},
            "system": {"type": "boolean", "description": "all workers paused"},
            "project": {"type": "array", "items": _STR, "description": "paused projects"},
        },
        "required": ["changed", "system", "project"],
    },
)

SETTING_PROPERTIES = {
    "attempts": {"type": "integer", "minimum": 1},
    "defer_time": {"type": "integer", "minimum": 1},
    "defer_max": {"type": "integer", "minimum": 1},
    "error_time": ERROR_TIME,
    "wall_time": {"type": "integer", "minimum": 1, "nullable": True},
    "zombie_time": {"type": "integer", "minimum": 1},
    "max_parallel": {"type": "integer", "minimum": 1},
    "priority": {"type": "integer"},
    "force": {"type": "boolean"},
    "progress_interval": {"type": "integer", "minimum": 1},
    "worker": {"type": "string", "nullable": True},
    "timeout": TIMEOUT,
}

ENQUEUE_BODY = {
    "type": "object",
    "properties": {
        "qual_name": {"type": "string", "description": "the job class, `module.Class`"},
        "args": {"type": "object", "additionalProperties": ANY, "description": "job arguments"},
        "follow": {"type": "boolean", "description": "stream the job as server-sent events"},
        **SETTING_PROPERTIES,
    },
    "required": ["qual_name"],
}

FOLLOW_BODY = {
    "type": "object",
    "properties": {"follow": {"type": "boolean", "description": "stream the new job (SSE)"}},
}

LIST_BODY = {
    "type": "object",
    "properties": {
        "page": {"type": "integer"},
        "per_page": {"type": "integer", "minimum": 1},
        "filter": {"type": "object", "additionalProperties": ANY},
        "search": {
            "type": "string",
            "maxLength": MAX_SEARCH,
            "description": "text in the id, the name or the arguments (JSON), any case",
        },
        "sort": {
            "type": "array",
            "items": {"type": "array", "items": ANY, "minItems": 2, "maxItems": 2},
            "description": 'e.g. [["state", 1], ["_id", -1]]',
        },
    },
}

BULK_BODY = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["kill", "remove", "restart"]},
        "ids": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 64},
            "description": "job ids, at most `CORE4_JOB_BULK_MAX` (default 100)",
        },
    },
    "required": ["action", "ids"],
}

ENQUEUE_MANY_BODY = {
    "type": "object",
    "properties": {
        "jobs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    k: v for k, v in ENQUEUE_BODY["properties"].items() if k != "follow"
                },
                "required": ["qual_name"],
            },
            "description": "the jobs, at most `CORE4_ENQUEUE_MANY_MAX` (default 10000)",
        },
    },
    "required": ["jobs"],
}

ENQUEUE_MANY_RESULT = component(
    "JobEnqueueManyResult",
    {
        "type": "array",
        "description": "Per job, in the order sent: `{ok: true, data: <new id>}` or "
        "`{ok: false, code: 400, error}` where an unfinished job with that name and arguments "
        "exists (or an earlier item is the same job).",
        "items": {
            "type": "object",
            "properties": {
                "ok": {"type": "boolean"},
                "data": {"type": "string", "description": "the new job's id"},
                "code": {"type": "integer", "description": "400"},
                "error": _STR,
            },
            "required": ["ok"],
        },
    },
)

BULK_RESULT = component(
    "JobBulkResult",
    {
        "type": "object",
        "description": "Per job id: `{ok: true, data}` (as the single action replies) or "
        "`{ok: false, code, error}`.",
        "additionalProperties": {
            "type": "object",
            "properties": {
                "ok": {"type": "boolean"},
                "data": {
                    "oneOf": [{"type": "boolean", "enum": [True]}, {"type": "string"}],
                    "description": "kill/remove: true; restart: the id of the job that will run",
                },
                "code": {"type": "integer", "description": "403, 404 or 400"},
                "error": _STR,
            },
            "required": ["ok"],
        },
    },
)

JOB_CLASS = component(
    "JobClass",
    {
        "type": "object",
        "description": "A registered job class (`GET /job/list`): what may be enqueued.",
        "properties": {
            "_id": {"type": "string", "description": "the qualified name"},
            "qual_name": {"type": "string", "description": "`module.Class`"},
            "author": _NSTR,
            "doc": {"type": "string", "description": "the class's docstring"},
            "valid": {"type": "boolean", "description": "false: it cannot run (see `error`)"},
            "error": _NSTR,
            "aliases": {"type": "array", "items": _STR, "description": "foreign names"},
            "settings": {
                "type": "object",
                "additionalProperties": True,
                "description": "the class's defaults for every job setting",
            },
            "schedule": {
                "type": "string",
                "nullable": True,
                "description": "the class's own cron `schedule` (not inherited), or null",
            },
            "next_run": {
                "type": "string",
                "nullable": True,
                "description": "UTC ISO-8601: when the class schedule is due next",
            },
        },
        "required": [
            "_id",
            "qual_name",
            "author",
            "doc",
            "valid",
            "error",
            "aliases",
            "settings",
            "schedule",
            "next_run",
        ],  # fmt: skip
        "additionalProperties": False,
    },
)

_SCHEDULE_FIELDS = {
    "name": {"type": "string", "description": "the job class, `module.Class` (registered)"},
    "args": {"type": "object", "additionalProperties": ANY, "description": "job arguments"},
    "cron": {
        "type": "string",
        "nullable": True,
        "description": "five-field cron expression, evaluated in `timezone` (or `interval`)",
    },
    "interval": {
        "type": "integer",
        "nullable": True,
        "description": "every so many seconds (or `cron`)",
    },
    "timezone": {"type": "string", "description": "zone of the cron expression (default UTC)"},
    "enabled": {"type": "boolean"},
    "reason": {"type": "string", "nullable": True, "description": "why it is disabled"},
}

SCHEDULE = component(
    "Schedule",
    {
        "type": "object",
        "description": "A job enqueued when due: by a cron expression in a time zone, or "
        "every `interval` seconds. `source: class` rows come from a job class's `schedule` "
        "and are read-only. Times are UTC ISO-8601.",
        "properties": {
            "_id": _STR,
            **_SCHEDULE_FIELDS,
            "schedule": {"type": "string", "description": "the schedule in words"},
            "source": {"type": "string", "enum": ["runtime", "class"]},
            "next_run": _NTIME,
            "last_run": _NTIME,
            "last_outcome": {
                "type": "string",
                "nullable": True,
                "description": "`enqueued`, `exists` (the job was still unfinished), `failed`",
            },
            "last_job_id": _NSTR,
            "created_at": _NTIME,
            "created_by": _STR,
            "updated_at": _NTIME,
            "etag": {"type": "integer", "description": "send it back to update or delete"},
        },
        "required": [
            "_id",
            "name",
            "args",
            "cron",
            "interval",
            "timezone",
            "enabled",
            "source",
            "next_run",
            "last_run",
            "etag",
        ],  # fmt: skip
    },
)

SCHEDULE_BODY = {
    "application/json": {
        "type": "object",
        "properties": _SCHEDULE_FIELDS,
        "required": ["name"],
    }
}
SCHEDULE_UPDATE_BODY = {
    "application/json": {
        "type": "object",
        "properties": {**_SCHEDULE_FIELDS, "etag": {"type": "integer"}},
        "required": ["etag"],
    }
}
