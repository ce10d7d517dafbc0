"""Leased periodic duties: "every N seconds, exactly one worker in the cluster runs this".

Every worker runs the same list of :class:`Duty` objects (:func:`default_duties`); a duty
runs only on the worker holding its :class:`~jobqueue.models.Lease`, renewed each time it is
due. If the holder dies its lease expires and the next worker that finds the duty due takes
it over: within ``lease + every`` seconds, at most twice the lease.

Adding a duty is a subclass and a line in :func:`default_duties` (see :class:`Summary`,
:class:`DailyCommands`, :class:`Scheduler`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.management import call_command, get_commands

from core4api.ids import utcnow
from jobqueue import transitions
from jobqueue.models import Control, Lease
from jobqueue.processes import Keep
from jobqueue.scheduling import Scheduler as ScheduleEngine
from jobqueue.signals import queue_summary
from jobqueue.summary import summary_rows

log = logging.getLogger(__name__)


class Duty:
    """One periodic duty; ``name`` is also the name of its lease.

    ``every``: seconds between runs; ``lease``: seconds the lease is held from each run
    (long enough to outlast a slow run and a late tick, short enough for a quick takeover).
    """

    name: str = ""

    @property
    def every(self) -> float:
        raise NotImplementedError

    @property
    def lease(self) -> float:
        return max(3.0, 3 * self.every)

    def run(self, now: datetime) -> None:
        """Do the duty; only the lease holder calls it. ``now``: when it became due."""
        raise NotImplementedError

    def tend(self) -> None:
        """Called every tick on every worker, lease or not: e.g. reap processes ``run``
        started (a worker may lose the lease while they run)."""

    def wait(self) -> float | None:
        """After a run: seconds until the duty wants to run again, if sooner than ``every``
        (None: after ``every``)."""
        return None


class Summary(Duty):
    """The queue summary to every ``summary`` subscriber (the WebSocket frames)."""

    name = "summary"

    @property
    def every(self) -> float:
        return float(settings.CORE4_SUMMARY_INTERVAL)

    def run(self, now: datetime) -> None:
        queue_summary.send(sender=Summary, rows=summary_rows(), author=transitions.os_user())


class DailyCommands(Duty):
    """``CORE4_WORKER_DAILY_COMMANDS`` once a day per cluster, each in a forked process (the
    loop must not wait for it). The day is bookmarked in ``Control`` (key ``daily``), so a
    restart or a takeover does not run them again."""

    name = "daily"
    KEY = "daily"
    #: the bookmark makes it once a day; checking once a minute keeps the lease cheap
    every = 60.0

    def __init__(self, holder: str, keep: Keep):
        self.holder = holder
        self.keep = keep  # the worker's connections a forked process must leave open
        self.pids: list[int] = []

    def run(self, now: datetime) -> None:
        commands = settings.CORE4_WORKER_DAILY_COMMANDS
        if not commands:
            return
        if not Control.objects.claim_period(self.KEY, 86400, self.holder):
            return
        known = get_commands()
        for name in commands:
            if name not in known:
                log.warning("daily command [%s] does not exist: skipped", name)
                continue
            self._run_detached(name)

    def _run_detached(self, command: str) -> None:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                from jobqueue.runner import detach_inherited

                detach_inherited(*self.keep())
                call_command(command)
            except BaseException:
                log.exception("daily command [%s] failed", command)
                code = 1
            finally:
                os._exit(code)
        log.info("daily command [%s] started in pid %d", command, pid)
        self.pids.append(pid)

    def tend(self) -> None:
        for pid in list(self.pids):
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            self.pids.remove(pid)


class Scheduler(Duty):
    """The scheduler (:mod:`jobqueue.scheduling`): enqueue the due schedules, once a second
    — or sooner, when the next schedule is due before that. Its lease is
    ``CORE4_SCHEDULER_LEASE``; ``manage.py scheduler`` takes the same lease, so only one
    process of the cluster fires."""

    name = "scheduler"
    every = 1.0

    def __init__(self, holder: str):
        self.engine = ScheduleEngine(holder)
        self.next_due: datetime | None = None
        self.runs = 0

    @property
    def lease(self) -> float:
        return float(settings.CORE4_SCHEDULER_LEASE)

    def run(self, now: datetime) -> None:
        self.runs += 1
        self.next_due = self.engine.step(now).next_due

    def wait(self) -> float | None:
        if self.next_due is None:
            return None
        return max((self.next_due - utcnow()).total_seconds(), 0.01)


def default_duties(holder: str, keep: Keep) -> list[Duty]:
    """The duties every worker runs, in this order when due at once (the scheduler unless
    ``CORE4_SCHEDULER=off``)."""
    duties: list[Duty] = [Summary(), DailyCommands(holder, keep)]
    if settings.CORE4_SCHEDULER == "worker":
        duties.append(Scheduler(holder))
    return duties


class Duties:
    """The duties of one worker (``holder``) and when each is due next (monotonic clock)."""

    def __init__(self, holder: str, duties: Iterable[Duty]):
        self.holder = holder
        self.duties = list(duties)
        self.due: dict[str, float] = {duty.name: 0.0 for duty in self.duties}

    def __getitem__(self, name: str) -> Duty:
        return next(duty for duty in self.duties if duty.name == name)

    def next_at(self) -> float:
        """When the next duty is due (``time.monotonic()``)."""
        return min(self.due.values(), default=float("inf"))

    def hold(self, name: str) -> bool:
        """Take or renew the lease of duty ``name``: True if this worker holds it."""
        return Lease.objects.acquire(name, self.holder, self[name].lease)

    def run(self, name: str) -> bool:
        """Run duty ``name`` if this worker holds (or takes) its lease."""
        if not self.hold(name):
            return False
        self[name].run(utcnow())
        return True

    def run_due(self) -> None:
        """Run every duty whose time has come."""
        for duty in self.duties:
            now = time.monotonic()
            if now >= self.due[duty.name]:
                self.due[duty.name] = now + duty.every
                if self.run(duty.name) and (wait := duty.wait()) is not None:
                    self.due[duty.name] = now + min(duty.every, wait)

    def tend(self) -> None:
        for duty in self.duties:
            duty.tend()

    def release(self) -> None:
        """Give up this worker's leases: another worker takes over at once."""
        Lease.objects.release(self.holder)
