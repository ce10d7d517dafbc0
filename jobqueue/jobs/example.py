"""Example jobs: a sleeper that reports progress, a job that fails until its last attempt,
a job that defers, a no-op (benchmarks), and a django.tasks function (``greet``)."""

from __future__ import annotations

import time

from django_tasks import task

from jobqueue.job import CoreJob


class DummyJob(CoreJob):
    """Sleeps ``sleep`` seconds (default 3), printing a line and reporting progress every
    ``loop_time`` seconds (default 0.5); ``logging=true`` also logs each loop."""

    author = "mra"

    def execute(self, sleep=None, loop_time=0.5, logging=False, **kwargs):
        sleep = 3 if sleep is None else sleep
        if isinstance(sleep, bool) or not isinstance(sleep, int | float) or sleep < 0:
            raise ValueError(f"[sleep] expected a number >= 0, got {sleep!r}")
        if isinstance(loop_time, bool) or not isinstance(loop_time, int | float) or loop_time <= 0:
            raise ValueError(f"[loop_time] expected a number > 0, got {loop_time!r}")
        print(f"start DummyJob, sleep [{sleep}], trial [{self.trial}]")
        started = time.monotonic()
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= sleep:
                break
            print(f"running [{elapsed:.1f}] of [{sleep}] seconds")
            if logging:
                self.logger.info("running [%.1f] of [%s] seconds", elapsed, sleep)
            self.progress(elapsed / sleep, "running")
            time.sleep(min(loop_time, max(sleep - elapsed, 0)))
        print("done")


class ErrorJob(CoreJob):
    """Fails on every attempt; with ``success=true`` it succeeds on its last attempt."""

    author = "mra"
    attempts = 3
    error_time = 3

    def execute(self, success=False, **kwargs):
        print(f"trial [{self.trial}], attempts left [{self.attempts_left}]")
        if success and self.attempts_left == 1:
            print("success on the last attempt")
            return
        raise RuntimeError(f"expected failure in trial [{self.trial}]")


class DeferJob(CoreJob):
    """Defers every time; with ``success=true`` it completes in its third trial."""

    author = "mra"
    defer_time = 2
    defer_max = 10

    def execute(self, success=False, **kwargs):
        print(f"trial [{self.trial}]")
        if success and self.trial >= 3:
            return
        self.defer("deferred in trial [%s]", self.trial)


class NoopJob(CoreJob):
    """Does nothing (throughput benchmarks)."""

    author = "mra"

    def execute(self, **kwargs):
        return None


@task
def greet(name: str = "world") -> str:
    """A django.tasks function (README "django.tasks"): returns a greeting."""
    print(f"greeting {name}")
    return f"hello {name}"
