"""Job classes of the job API tests (importable by the worker processes of live stacks)."""

from __future__ import annotations

import logging
import time

from jobqueue.job import CoreJob

log = logging.getLogger(__name__)


class EchoJob(CoreJob):
    """Prints ``lines`` lines, logs one, sleeps ``sleep`` seconds in between steps."""

    author = "test"

    def execute(self, lines=3, sleep=0.0, **kwargs):
        for n in range(lines):
            print(f"hello world {n}", flush=True)
            self.progress((n + 1) / lines, "echo", force=True)
            if sleep:
                time.sleep(sleep)
        self.logger.info("echo done")


class SleepJob(CoreJob):
    """Runs until killed (or ``seconds`` passed), printing a heartbeat line."""

    author = "test"

    def execute(self, seconds=120, **kwargs):
        started = time.monotonic()
        print("sleeping", flush=True)
        while time.monotonic() - started < seconds:
            time.sleep(0.2)


class OtherJob(CoreJob):
    """A job of another family: users with ``job://tests.jobqueue.api.jobs.EchoJob`` rights cannot see it."""

    author = "test"

    def execute(self, **kwargs):
        return None


class ScheduledJob(CoreJob):
    """Has a class schedule (core4's ``schedule``): 03:00 UTC on 29 February only, so that
    the workers of other tests (which run the scheduler duty) never fire it."""

    author = "test"
    schedule = "0 3 29 2 *"

    def execute(self, **kwargs):
        return None


class InheritsScheduleJob(ScheduledJob):
    """Inherits ``schedule``, which core4 does not inherit: no class schedule."""

    author = "test"


class NoAuthorJob(CoreJob):
    def execute(self, **kwargs):
        return None


NOT_A_JOB = 42
