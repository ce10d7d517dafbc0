"""The queue's exceptions (``jobqueue.errors``) as core4 API errors, mapped in one place.

Their messages name ids and the names the caller sent, never the name of a job the caller
may not read (views check read access before calling a service on an existing job).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import IntegrityError

from core4api.exceptions import BadRequest, NotFound
from jobqueue.errors import JobError, JobExists, JobInvalid, JobNotFound, JobStateError


@contextmanager
def job_errors() -> Iterator[None]:
    """Run a queue service call; its errors become 400/404 envelopes."""
    try:
        yield
    except JobNotFound as exc:
        raise NotFound(str(exc)) from exc
    except (JobExists, JobInvalid, JobStateError) as exc:
        raise BadRequest(str(exc)) from exc
    except JobError as exc:  # a future subclass: still the client's request that failed
        raise BadRequest(str(exc)) from exc
    except IntegrityError as exc:  # a concurrent change won the race on a unique job
        raise BadRequest("the job changed concurrently, try again") from exc
