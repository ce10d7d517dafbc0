"""The queue's service API, used by the CLI, the admin and the REST API.

Every function takes ``by`` — the acting user's name, recorded as the event author
(``None`` = the OS user of this process) — and raises a ``jobqueue.errors.JobError``
subclass whose message can be shown as is:

* ``JobNotFound`` — unknown id, finished job, or job class that cannot be found;
* ``JobInvalid`` — not a job class, missing ``author``, invalid setting (names the field);
* ``JobExists`` — ``job [<qual_name>] exists with args {...}``;
* ``JobStateError`` — the operation does not apply to the job's state.

Permissions are the caller's business (``user.access.can_execute_job(job.name)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from core4api.ids import isoformat, utcnow
from core4api.limitvalues import limit
from jobqueue import transitions
from jobqueue.errors import JobError, JobInvalid, JobNotFound, JobStateError
from jobqueue.job import SETTINGS, split_kwargs
from jobqueue.models import Control, Job, WorkerRecord
from jobqueue.registry import resolve

#: ``enqueued_by`` (and event author) of what the scheduler enqueues
SCHEDULER = "scheduler"

__all__ = [
    "SCHEDULER",
    "alive_workers",
    "control_worker",
    "enqueue",
    "enqueue_scheduled",
    "enqueue_scheduled_many",
    "enqueue_many",
    "get_job",
    "halt",
    "job_detail",
    "kill",
    "maintenance",
    "pause",
    "remove",
    "restart",
    "resume",
    "worker_modes",
]


def enqueue(qual_name: str, by: str | None = None, **kwargs: Any) -> Job:
    """Enqueue job ``qual_name``: keywords named like a setting (``priority=5``) set it,
    all others — or an ``args`` dict — are the job's arguments. Returns the new ``Job``."""
    cls = resolve(qual_name)
    settings, args = split_kwargs(cls, qual_name, dict(kwargs))
    return transitions.enqueue(qual_name, settings, args, by=by)


def enqueue_scheduled(
    qual_name: str, kwargs: dict[str, Any], schedule_id: str, by: str | None = None
) -> Job:
    """Enqueue job ``qual_name`` for the ``Schedule`` ``schedule_id``: ``kwargs`` as the
    keywords of :func:`enqueue` (settings by name, the rest arguments); the job records
    ``schedule_id`` and ``enqueued_by`` ``by`` (default ``scheduler``)."""
    _, settings, args = _scheduled(qual_name, kwargs)
    return transitions.enqueue(
        qual_name, settings, args, by=by or SCHEDULER, schedule_id=schedule_id
    )


def enqueue_scheduled_many(
    requests: list[tuple[str, Any, str]], by: str | None = None
) -> list[Job | JobError]:
    """:func:`enqueue_scheduled` for many (qual_name, kwargs, schedule_id) at once, in one
    transaction (``transitions.enqueue_many``): per request its ``Job`` or its ``JobError``."""
    results: list[Job | JobError | None] = [None] * len(requests)
    items, where = [], []
    for index, (qual_name, kwargs, schedule_id) in enumerate(requests):
        try:
            items.append((*_scheduled(qual_name, kwargs), schedule_id))
        except JobError as exc:
            results[index] = exc
            continue
        where.append(index)
    for index, result in zip(where, transitions.enqueue_many(items, by=by or SCHEDULER),
                             strict=True):  # fmt: skip
        results[index] = result
    return [result for result in results if result is not None]


def _scheduled(qual_name: str, kwargs: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    if not isinstance(kwargs, dict):
        raise JobInvalid(f"schedule arguments expected a JSON object, got {kwargs!r}")
    return _checked(qual_name, kwargs)


def _checked(
    qual_name: str, kwargs: Mapping[str, Any]
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """One job to enqueue, checked: ``(qual_name, settings, args)`` — its class resolved
    (``JobNotFound``), the keywords split into settings and arguments (``JobInvalid`` naming
    the setting), the arguments JSON values (``JobInvalid``)."""
    cls = resolve(qual_name)
    settings, args = split_kwargs(cls, qual_name, dict(kwargs))
    transitions.args_hash(args)  # JSON values only
    return qual_name, settings, args


def enqueue_many(jobs: Sequence[Mapping[str, Any]], by: str | None = None) -> list[Job | None]:
    """Enqueue many jobs in one transaction: each item is what :func:`enqueue` takes as
    keywords plus ``qual_name`` (``{"qual_name": "x.Job", "args": {...}, "priority": 5}``).

    Every item is checked first; the first bad one raises (``JobNotFound``/``JobInvalid``
    naming its index: ``jobs[3]: ...``) and nothing is enqueued. Returns, item by item, the
    new ``Job`` or None where an unfinished job with that name and arguments exists (or an
    earlier item is the same job): nothing is enqueued twice. Each new job has its
    ``enqueue_job`` event, in the order of ``jobs``. At most ``CORE4_ENQUEUE_MANY_MAX`` items
    (default 10,000; ``JobInvalid`` naming the setting).
    """
    maximum = limit("CORE4_ENQUEUE_MANY_MAX")
    if len(jobs) > maximum:
        raise JobInvalid(f"{len(jobs)} jobs is more than CORE4_ENQUEUE_MANY_MAX ({maximum})")
    checked = []
    for index, item in enumerate(jobs):
        try:
            if not isinstance(item, Mapping):
                raise JobInvalid(f"expected an object with qual_name, got {type(item).__name__}")
            kwargs = dict(item)
            qual_name = kwargs.pop("qual_name", None)
            if not isinstance(qual_name, str) or not qual_name:
                raise JobInvalid("[qual_name] missing: the job's qualified name module.Class")
            checked.append((*_checked(qual_name, kwargs), None))
        except (JobNotFound, JobInvalid) as exc:
            raise type(exc)(f"jobs[{index}]: {exc}") from None
    done = transitions.enqueue_many(checked, by=by)
    return [job if isinstance(job, Job) else None for job in done]


def kill(job_id: str, by: str | None = None) -> Job:
    """Request SIGKILL of a running job; its worker kills it within about a second."""
    return transitions.request_kill(job_id, by)


def remove(job_id: str, by: str | None = None) -> Job:
    """Take a job out of the queue: at once unless it runs, else when it stops."""
    return transitions.request_remove(job_id, by)


def restart(job_id: str, by: str | None = None) -> Job:
    """Run a deferred/failed job now (same job returned) or a killed/inactive/error job
    again as a new job (the new job is returned; ``parent_id``/``child_id`` link them)."""
    return transitions.restart(job_id, by)


def get_job(job_id: str) -> Job:
    """Any job by id, finished ones included (``journaled``)."""
    try:
        if not isinstance(job_id, str):
            raise Job.DoesNotExist
        return Job.objects.get(pk=job_id)
    except Job.DoesNotExist:
        raise JobNotFound(f"job [{job_id}] not found") from None


def job_detail(job: Job, stdout: bool = False, result: bool = True) -> dict[str, Any]:
    """The job as core4 shows it (JSON-ready: datetimes as UTC ISO strings), with what its
    ``execute`` returned (``result``, null if nothing) unless ``result`` is False."""
    data = {
        "_id": job.id,
        "name": job.name,
        "args": job.args,
        "state": job.state,
        "journaled": job.journaled,
        **{key: getattr(job, key) for key in SETTINGS},
        "attempts_left": job.attempts_left,
        "trial": job.trial,
        "enqueued": {
            "at": isoformat(job.enqueued_at),
            "by": job.enqueued_by,
            "hostname": job.enqueued_hostname,
            "parent_id": job.parent_id,
            "child_id": job.child_id,
            "schedule_id": job.schedule_id,
        },
        "locked": None
        if job.locked_by is None
        else {
            "worker": job.locked_by,
            "hostname": job.locked_hostname,
            "pid": job.pid,
            "heartbeat": isoformat(job.heartbeat),
        },
        "prog": job.prog,
        "last_error": job.last_error,
        "runtime": job.runtime,
        "run_mode": job.run_mode or None,  # how the worker ran it last: fork or pool
    }
    for key in (
        "started_at", "finished_at", "query_at", "inactive_at",
        "removed_at", "killed_at", "wall_at", "zombie_at",
    ):  # fmt: skip
        data[key] = isoformat(getattr(job, key))
    if result:
        data["result"] = job.result
    if stdout:
        data["stdout"] = job.stdout
    return data


# --- maintenance ----------------------------------------------------------------------------
def _key(project: str | None) -> str:
    if project is not None and (not isinstance(project, str) or not project.isidentifier()):
        raise JobNotFound(f"invalid project name [{project}]")
    return Control.objects.pause_key(project)


def pause(project: str | None = None, by: str | None = None) -> bool:
    """Stop picking jobs (of ``project`` = first part of the job name, or all).
    False if paused already. Running jobs continue."""
    _, created = Control.objects.get_or_create(
        key=_key(project), defaults={"value": {"by": transitions.author_of(by)}}
    )
    return created


def resume(project: str | None = None, by: str | None = None) -> bool:
    """Leave a pause; False if it was not paused."""
    with transaction.atomic():
        deleted, _ = Control.objects.filter(key=_key(project)).delete()
        if deleted:
            transitions.notify()
    return bool(deleted)


def maintenance() -> dict[str, Any]:
    """``{"paused": bool, "projects": [...]}``."""
    switches = Control.objects.switches()
    return {"paused": switches.paused, "projects": switches.projects}


def halt(by: str | None = None) -> None:
    """Tell every worker running now to stop (as on SIGTERM); workers started later run."""
    with transaction.atomic():
        Control.objects.update_or_create(
            key=Control.objects.HALT,
            defaults={"value": {"by": transitions.author_of(by)}, "created": utcnow()},
        )


def alive_workers() -> list[WorkerRecord]:
    """Workers whose heartbeat is younger than ``CORE4_WORKER_TIMEOUT``."""
    return list(WorkerRecord.objects.alive())


#: What may be asked of one worker: stop picking, stop gracefully, pick again.
WORKER_ACTIONS = ("quiet", "stop", "resume")
#: A worker's mode when nothing was asked of it.
ACTIVE = "active"


def worker_modes() -> dict[str, str]:
    """``{identifier: "quiet" | "stopping"}`` for the workers not simply active."""
    return Control.objects.worker_modes()


def control_worker(identifier: str, action: str, by: str | None = None) -> tuple[bool, str]:
    """Ask one live worker to stop picking jobs (``quiet``: its running jobs go on), to stop
    gracefully (``stop``: as on SIGTERM — running jobs may end within the grace period, then
    they are ended and retried) or to pick again (``resume``: undoes ``quiet``; a stop cannot
    be undone). The worker reads it within a housekeeping tick (a second). Returns
    ``(changed, mode)`` with the mode now (``active``, ``quiet``, ``stopping``)."""
    if action not in WORKER_ACTIONS:
        raise JobStateError(f"unknown worker action [{str(action)[:100]}]")
    if (
        not isinstance(identifier, str)
        or not WorkerRecord.objects.alive().filter(pk=identifier).exists()
    ):
        raise JobNotFound(f"worker [{str(identifier)[:255]}] not found (not alive)")
    manager = Control.objects
    with transaction.atomic():
        current = manager.worker_modes().get(identifier, ACTIVE)
        if current == manager.STOPPING:
            if action == "stop":
                return False, current
            raise JobStateError(f"worker [{identifier}] is stopping: a stop cannot be undone")
        if action == "resume":
            return manager.clear_worker_mode(identifier), ACTIVE
        mode = manager.QUIET if action == "quiet" else manager.STOPPING
        if mode == current:
            return False, current
        author = transitions.author_of(by)
        manager.set_worker_mode(
            identifier, mode, f"stop requested by {author}" if action == "stop" else author
        )
        return True, mode
