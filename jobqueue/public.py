"""The queue's public Python API: ``from jobqueue import enqueue, get, kill, remove, restart``.

The documented face of :mod:`jobqueue.services` (which the CLI, the admin and the REST API call):
these functions add nothing but the convenience of passing a job class or its name and of
getting ids back, so there is one implementation of every operation. ``jobqueue/__init__.py``
re-exports them lazily, so that ``import jobqueue`` does not load models before the apps.

Every function takes ``by``, the acting user's name recorded as the author of the event
(``None``: the OS user of this process), and raises a :class:`jobqueue.errors.JobError`
subclass whose message can be shown as is (``JobNotFound``, ``JobInvalid``, ``JobExists``,
``JobStateError``). Permissions are the caller's business
(``user.access.can_execute_job(name)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobqueue import services
from jobqueue.errors import JobNotFound
from jobqueue.job import CoreJob, qual_name

if TYPE_CHECKING:
    from jobqueue.models import Job

__all__ = ["enqueue", "enqueue_job", "get", "kill", "remove", "restart"]


def job_name(job: type[CoreJob] | str) -> str:
    """The registered name of a job class, or the name as given (looked up on enqueue)."""
    if isinstance(job, type) and issubclass(job, CoreJob):
        from jobqueue.registry import registry

        name = qual_name(job)
        entry = registry().entries.get(name)
        if entry is None or entry.cls is not job:
            raise JobNotFound(
                f"job class [{name}] is not registered: define it in an app's jobs module or "
                "in a package of CORE4_JOB_PACKAGES"
            )
        return name
    return job  # anything else: the registry says what it is


def enqueue_job(job: type[CoreJob] | str, /, *, by: str | None = None, **kwargs: Any) -> Job:
    """As :func:`enqueue`, but returns the new ``Job`` row (for callers that show it)."""
    return services.enqueue(job_name(job), by=by, **kwargs)


def enqueue(job: type[CoreJob] | str, /, *, by: str | None = None, **kwargs: Any) -> str:
    """Enqueue ``job`` (a registered job class, or its qualified name or alias); returns the id.

    Keywords named like a setting (``priority=5``, ``attempts=3``, ``defer_time``, …) set it;
    all others — or an ``args`` dict — are the job's arguments (JSON values). At most one
    unfinished job per name and arguments (``JobExists``)."""
    return enqueue_job(job, by=by, **kwargs).id


def get(job_id: str) -> Job:
    """Any job by id, finished ones included; ``services.job_detail(job)`` for its JSON."""
    return services.get_job(job_id)


def kill(job_id: str, by: str | None = None) -> Job:
    """Ask the worker of a running job to SIGKILL it (within about a second)."""
    return services.kill(job_id, by=by)


def remove(job_id: str, by: str | None = None) -> Job:
    """Take a job out of the queue: at once unless it runs, else when it stops."""
    return services.remove(job_id, by=by)


def restart(job_id: str, by: str | None = None) -> str:
    """Run a deferred/failed job now (same id) or a killed/inactive/error job again as a new
    job; returns the id of the job that will run."""
    return services.restart(job_id, by=by).id
