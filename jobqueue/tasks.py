"""django.tasks on this queue: ``TASKS = {"default": {"BACKEND": "jobqueue.tasks.QueueBackend"}}``.

A ``@task`` function (DEP 14; Django 5.2 uses the ``django-tasks`` backport, which has the same
API) becomes a job like any other. Each task function found by the job registry — a module-level
``@task`` of an app's ``tasks`` or ``jobs`` module, or of a package in ``CORE4_JOB_PACKAGES`` —
is registered as a job class of its own, generated here (a ``TaskJob`` subclass), under the
function's qualified name ``module.function``. So its jobs carry that name in events, summaries,
the history, the dashboard, ``coco`` and ``job://`` permissions, and the worker finds the function
through the registry like any job class: nothing is imported because a row or a client named it.

``send_report.enqueue(*args, **kwargs)`` inserts a pending job with the arguments
``{"args": [...], "kwargs": {...}, "nonce": "..."}`` (the nonce makes every enqueue a job of its
own, as django.tasks promises: a job class allows one unfinished job per name and arguments) and
returns a ``TaskResult`` whose ``id`` is the job's id. ``priority`` becomes the job's priority
(higher first, as in both), ``run_after`` its ``query_at``; the queue has one queue,
``default``, so any other ``queue_name`` is refused. ``get_result(id)`` reads the job back:
status, times, the value ``execute`` returned (``Job.result``, stored by the worker) and the
last error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks import DEFAULT_TASK_QUEUE_NAME, TaskResult, TaskResultStatus, task_backends
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.base import Task, TaskContext, TaskError
from django_tasks.exceptions import InvalidTaskError, TaskResultDoesNotExist
from django_tasks.signals import task_enqueued, task_finished, task_started
from django_tasks.utils import get_exception_traceback, get_module_path, normalize_json

from jobqueue import states
from jobqueue.errors import JobError
from jobqueue.job import CoreJob, split_kwargs

if TYPE_CHECKING:
    from jobqueue.models import Job

#: The author recorded on the job class of every task function (core4 wants one per class).
TASK_AUTHOR = "django.tasks"
#: Length of the nonce that keeps two enqueues of a task with equal arguments apart.
NONCE_LENGTH = 12

#: Job state → the status a ``TaskResult`` shows. ``failed`` and ``deferred`` jobs run again.
STATUS = {
    states.PENDING: TaskResultStatus.READY,
    states.DEFERRED: TaskResultStatus.READY,
    states.FAILED: TaskResultStatus.READY,
    states.RUNNING: TaskResultStatus.RUNNING,
    states.COMPLETE: TaskResultStatus.SUCCESSFUL,
    states.ERROR: TaskResultStatus.FAILED,
    states.KILLED: TaskResultStatus.FAILED,
    states.INACTIVE: TaskResultStatus.FAILED,
}


class TaskJob(CoreJob):
    """The job class of one task function; the registry makes one subclass per function."""

    task: ClassVar[Task]

    def execute(self, args=None, kwargs=None, nonce=None, **_ignored) -> Any:
        """Call the task function; the JSON form of what it returns is the job's result.

        Sends django.tasks' ``task_started`` and ``task_finished`` signals in the job process."""
        task = self.task
        args, kwargs = [] if args is None else args, {} if kwargs is None else kwargs
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise TypeError(f"task [{self.name}] takes arguments {{args: [...], kwargs: {{...}}}}")
        result = _backend(task).get_result(str(self._id))
        task_started.send(sender=QueueBackend, task_result=result)
        try:
            if task.takes_context:
                value = task.call(TaskContext(task_result=result), *args, **kwargs)
            else:
                value = task.call(*args, **kwargs)
            value = normalize_json(value)
        except BaseException as exc:
            error = TaskError(exception_class_path=get_module_path(type(exc)),
                              traceback=get_exception_traceback(exc))  # fmt: skip
            result.errors.append(error)
            _finished(result, TaskResultStatus.FAILED)
            raise
        object.__setattr__(result, "_return_value", value)
        _finished(result, TaskResultStatus.SUCCESSFUL)
        return value


def _backend(task: Task) -> QueueBackend:
    backend = task_backends[task.backend]
    if not isinstance(backend, QueueBackend):
        raise ImproperlyConfigured(f"task [{task.module_path}] no longer runs on this queue")
    return backend


def _finished(result: TaskResult, status: TaskResultStatus) -> None:
    object.__setattr__(result, "status", status)
    object.__setattr__(result, "finished_at", timezone.now())
    task_finished.send(sender=QueueBackend, task_result=result)


def task_jobs(module: ModuleType) -> Iterator[type[TaskJob]]:
    """A job class for each task function defined in ``module`` that runs on this queue."""
    for obj in list(vars(module).values()):
        if not isinstance(obj, Task) or getattr(obj.func, "__module__", None) != module.__name__:
            continue
        try:
            backend = task_backends[obj.backend]
        except ImproperlyConfigured:
            continue
        if isinstance(backend, QueueBackend):
            yield _job_class(obj)


def _job_class(task: Task) -> type[TaskJob]:
    func = task.func
    attrs = {
        "__module__": func.__module__,
        "__qualname__": func.__qualname__,
        "__doc__": func.__doc__ or f"django.tasks task {func.__qualname__}",
        "author": TASK_AUTHOR,
        "task": task,
    }
    return type(func.__name__, (TaskJob,), attrs)


class QueueBackend(BaseTaskBackend):
    """The django.tasks backend that enqueues on this job queue (see the module's doc)."""

    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict) -> None:
        super().__init__(alias, params)
        if self.queues != {DEFAULT_TASK_QUEUE_NAME}:
            raise ImproperlyConfigured(
                f"TASKS[{alias!r}]: jobqueue.tasks.QueueBackend has one queue, "
                f"{DEFAULT_TASK_QUEUE_NAME!r}; QUEUES={sorted(self.queues)} cannot be honoured"
            )

    def validate_task(self, task: Task) -> None:
        if task.queue_name != DEFAULT_TASK_QUEUE_NAME:
            raise InvalidTaskError(
                f"queue_name {task.queue_name!r}: this backend has one queue, "
                f"{DEFAULT_TASK_QUEUE_NAME!r} (pin jobs to a worker with a job class's "
                "`worker` setting instead)"
            )
        super().validate_task(task)

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        from jobqueue import transitions
        from jobqueue.registry import registry

        self.validate_task(task)
        name = task.module_path
        try:
            cls = registry().resolve(name)
        except JobError as exc:
            raise InvalidTaskError(f"task [{name}] is not registered: {exc}") from None
        if not issubclass(cls, TaskJob) or cls.task.func is not task.func:
            raise InvalidTaskError(
                f"task [{name}] is not registered: define it at module level in an installed "
                "app's tasks or jobs module, or in a package of CORE4_JOB_PACKAGES"
            )
        job_args = {
            "args": normalize_json(list(args)),
            "kwargs": normalize_json(dict(kwargs)),
            "nonce": get_random_string(NONCE_LENGTH),
        }
        try:
            settings, job_args = split_kwargs(
                cls, name, {"args": job_args, "priority": task.priority}
            )
        except JobError as exc:
            raise InvalidTaskError(str(exc)) from None
        if task.run_after is not None:
            # rides in the settings: transitions.enqueue sets them on the new Job as given
            settings["query_at"] = task.run_after.astimezone(dt.UTC)
        job = transitions.enqueue(name, settings, job_args)
        result = self._result(task, job)
        task_enqueued.send(sender=type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult:
        from jobqueue.models import Job
        from jobqueue.registry import registry

        job = Job.objects.filter(pk=str(result_id)[:64]).first()
        cls = registry().entries.get(job.name) if job is not None else None
        if job is None or cls is None or not issubclass(cls.cls, TaskJob):
            raise TaskResultDoesNotExist(result_id)
        return self._result(cls.cls.task, job)

    def _result(self, task: Task, job: Job) -> TaskResult:
        status = STATUS[job.state]
        if job.journaled and job.state != states.COMPLETE:
            status = TaskResultStatus.FAILED  # taken out of the queue before it finished
        finished = status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)
        arguments = job.args if isinstance(job.args, dict) else {}
        result: TaskResult = TaskResult(
            task=task,
            id=job.id,
            status=status,
            enqueued_at=job.enqueued_at,
            started_at=job.started_at,
            finished_at=(job.finished_at or job.journaled_at) if finished else None,
            last_attempted_at=job.started_at,
            args=arguments.get("args", []),
            kwargs=arguments.get("kwargs", {}),
            backend=self.alias,
            errors=_errors(job, status),
            # one entry per run; the worker is known for the run going on only
            worker_ids=[job.locked_by or "?"] * job.trial,
        )
        if status == TaskResultStatus.SUCCESSFUL:
            object.__setattr__(result, "_return_value", job.result)
        return result


def _errors(job: Job, status: TaskResultStatus) -> list[TaskError]:
    """The job's last error, if the task failed (or failed and waits for its next attempt)."""
    error = job.last_error
    if not isinstance(error, dict) or status == TaskResultStatus.SUCCESSFUL:
        return []
    if job.state == states.DEFERRED or str(error.get("exception", "")).startswith("JobDeferred"):
        return []
    trace = error.get("traceback")
    text = "".join(trace) if isinstance(trace, list) else str(error.get("exception", ""))
    path = error.get("exception_class")
    return [TaskError(exception_class_path=path or "builtins.Exception", traceback=text)]


__all__ = ["QueueBackend", "TaskJob", "task_jobs"]
