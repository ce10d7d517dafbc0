"""Errors of the queue's service API; each carries a message fit to show a user as is."""

from __future__ import annotations


class JobError(Exception):
    """Base of every queue error (``str(exc)`` is the user-facing message)."""


class JobNotFound(JobError):
    """Unknown job id, or a job class that cannot be found."""


class JobInvalid(JobError):
    """A job class or job setting that is not acceptable (names the field)."""


class JobExists(JobError):
    """An unfinished job with the same name and arguments exists."""

    def __init__(self, name: str, args: dict):
        super().__init__(f"job [{name}] exists with args {args}")
        self.name = name
        self.job_args = args


class JobStateError(JobError):
    """The operation does not apply to the job's current state."""
