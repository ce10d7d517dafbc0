"""Jobs used by the queue tests (importable by live workers: ``tests.jobqueue.jobs``)."""

from __future__ import annotations

import os
import sys
import time

from jobqueue.job import CoreJob


class SleepJob(CoreJob):
    """Sleeps without reporting progress (zombie candidate); prints to stdout and stderr."""

    author = "test"

    def execute(self, sleep=0, **kwargs):
        print(f"sleeping {sleep}")
        print("to stderr", file=sys.stderr)
        os.system("echo from a subprocess")  # C-level output must be captured
        time.sleep(sleep)


class ProgressJob(CoreJob):
    """Reports progress every loop for ``sleep`` seconds."""

    author = "test"
    progress_interval = 1

    def execute(self, sleep=1, **kwargs):
        end = time.monotonic() + sleep
        while time.monotonic() < end:
            self.progress(1 - (end - time.monotonic()) / sleep, "working")
            time.sleep(0.05)


class FailingJob(CoreJob):
    """Fails until its last attempt (``success=True``) or always."""

    author = "test"
    attempts = 2
    error_time = 1

    def execute(self, success=False, **kwargs):
        print(f"trial {self.trial} attempts_left {self.attempts_left}")
        if success and self.attempts_left == 1:
            return
        raise ValueError(f"bad luck in trial {self.trial}")


class DeferringJob(CoreJob):
    author = "test"
    defer_time = 1
    defer_max = 2

    def execute(self, **kwargs):
        self.defer("not yet, trial %s", self.trial)


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
