"""Job classes with a ``schedule``, registered only by the tests that want them (a test's
``settings`` fixture, or ``CORE4_JOB_PACKAGES`` of a live stack): elsewhere the scheduler
would enqueue them into other tests' queues."""

from __future__ import annotations

from jobqueue.job import CoreJob


class MinuteJob(CoreJob):
    """Enqueued every minute by the scheduler."""

    author = "test"
    schedule = "* * * * *"

    def execute(self, **kwargs):
        pass


class InheritingJob(MinuteJob):
    """A subclass: ``schedule`` is not inherited (core4), so never scheduled."""

    author = "test"


class BadScheduleJob(CoreJob):
    author = "test"
    schedule = "every minute"

    def execute(self, **kwargs):
        pass
