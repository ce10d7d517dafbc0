"""Jobs used by the queue tests (importable by live workers: ``tests.jobqueue.jobs``): the
example jobs (``jobqueue.jobs.example``) with the tests' short settings, and jobs that break
the rules on purpose."""

from __future__ import annotations

import os
import sys
import time

from jobqueue.job import CoreJob
from jobqueue.jobs.example import DeferJob, DummyJob, ErrorJob


class SleepJob(CoreJob):
    """Sleeps without reporting progress (zombie candidate); prints to stdout and stderr."""

    author = "test"

    def execute(self, sleep=0, **kwargs):
        print(f"sleeping {sleep}")
        print("to stderr", file=sys.stderr)
        os.system("echo from a subprocess")  # C-level output must be captured
        time.sleep(sleep)


class ProgressJob(DummyJob):
    """The example DummyJob: reports progress every loop for ``sleep`` seconds."""

    author = "test"
    progress_interval = 1


class FailingJob(ErrorJob):
    """The example ErrorJob: fails until its last attempt (``success=True``) or always."""

    author = "test"
    attempts = 2
    error_time = 1


class DeferringJob(DeferJob):
    """The example DeferJob: defers until ``defer_max`` has passed (without ``success``)."""

    author = "test"
    defer_time = 1
    defer_max = 2


class BrokenInitJob(CoreJob):
    """Cannot be instantiated in the job process: ``failed_start``."""

    author = "test"

    def __init__(self, *args, **kwargs):
        raise RuntimeError("cannot initialise")


class ExitJob(CoreJob):
    """The process exits without a result."""

    author = "test"

    def execute(self, **kwargs):
        os._exit(3)


class InheritedAuthorJob(SleepJob):
    """Inherits ``author``: refused (as core4)."""


class BadSettingJob(CoreJob):
    author = "test"
    attempts = 0


class NotAJob:
    author = "test"


not_a_class = SleepJob()


# --- retry backoff, timeout, results (issue #12 items 5-7) ---------------------------------
class ResultJob(CoreJob):
    """Returns ``value``; ``size=n``: a string of n bytes; ``kind="set"``: a set (not JSON)."""

    author = "test"

    def execute(self, value=None, size=0, kind=None, **kwargs):
        print("returning a result")
        if kind == "set":
            return {1, 2}
        if size:
            return "x" * size
        return value


class BackoffJob(ErrorJob):
    """The example ErrorJob (always fails without ``success``) with a backoff spec."""

    author = "test"
    attempts = 3
    error_time = {"base": 1, "factor": 2, "max": 10}


class TimeoutJob(SleepJob):
    """Sleeps ``sleep`` seconds with a timeout of 1 s."""

    author = "test"
    timeout = 1
    error_time = 1


class PoolJob(CoreJob):
    """Runs in the worker's warm pool (``run_mode = "pool"``); prints its process id."""

    author = "test"
    run_mode = "pool"

    def execute(self, sleep=0, fail=False, **kwargs):
        print(f"pid {os.getpid()}")
        print("to stderr", file=sys.stderr)
        os.system("echo from a subprocess")
        self.progress(0.5, "half", force=True)
        time.sleep(sleep)
        if fail:
            raise RuntimeError("failing on purpose")


class LoadedJob(CoreJob):
    """Returns which of the web side's modules its process has loaded (none: the worker,
    its fork server and so its job processes leave the URLconf and the views alone)."""

    author = "test"
    WEB = ("core4site.urls", "drf_spectacular.views", "dashboard.views", "jobqueue.api.views")

    def execute(self, **kwargs):
        return sorted(name for name in self.WEB if name in sys.modules)
