"""Recording what a worker's job processes reported (mixed into the worker's loop,
:class:`jobqueue.worker.Worker`): the transitions of their starts, progress and ends inside
the worker's turn, when a start alone makes a turn (``CORE4_WORKER_START_WINDOW``), and how
the jobs of a turn that failed are recorded apart, one transaction each, so that one whose
record keeps failing does not hold up the others.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import close_old_connections, connection

from jobqueue import transitions
from jobqueue.errors import JobError

if TYPE_CHECKING:
    from jobqueue.processes import Processes, Slot

log = logging.getLogger("jobqueue.worker")  # the worker speaks: the same logger as the loop


class Recording:
    """How a worker records its job processes' reports (mixed into ``Worker``)."""

    identifier: str
    processes: Processes
    stopping: bool

    def _recover(self) -> None:
        with contextlib.suppress(Exception):
            if connection.in_atomic_block:
                return
            connection.close()
        close_old_connections()

    def _apply(self, starts: list[Slot], progress: list[Slot], settle: list[Slot]) -> None:
        """The transitions of what the job processes reported: starts, progress, ends."""
        for slot in starts:
            self._transition(slot, transitions.start, slot.job_id, self.identifier, slot.pid)
        for slot in progress:
            if slot.progress_due is not None:
                value, message = slot.progress_due
                transitions.progress(slot.job_id, self.identifier, value, message)
        for slot in settle:
            self._transition(slot, self.processes.settle, slot)

    def _recorded(self, starts: list[Slot], progress: list[Slot], settle: list[Slot]) -> None:
        for slot in starts:
            slot.start_due = False
        for slot in progress:
            slot.progress_due = None
        for slot in settle:
            self.processes.unsettled.remove(slot)

    def _record_apart(self, slots: list[Slot], everything: bool = False) -> None:
        """After a failed turn: each of its jobs in a transaction of its own. A job whose
        record fails again is logged and tried again a tick later (``everything``: now,
        at shutdown); the others are recorded, and turns go on without it."""
        now = time.monotonic()
        for slot in slots:
            if not everything and slot.apart_at is not None and slot.apart_at > now:
                continue
            ended = any(other is slot for other in self.processes.unsettled)
            mine = ([slot] if slot.start_due else [], [slot] if slot.progress_due else [],
                    [slot] if ended else [])  # fmt: skip
            ids = [slot.job_id] * sum(map(len, mine))
            if not ids:  # nothing left to record of it
                slot.apart_at = None
                continue
            try:
                with transitions.batch(ids):
                    self._apply(*mine)
            except Exception:
                log.exception(
                    "worker [%s]: recording job [%s] failed, retrying it apart",
                    self.identifier,
                    slot.job_id,
                )
                self._recover()
                slot.apart_at = now + settings.CORE4_WORKER_TICK
                continue
            self._recorded(*mine)
            slot.apart_at = None

    def _starts_due(self, starts: list[Slot], now: bool = False) -> bool:
        """Whether reported starts alone make a turn: one that waited
        ``CORE4_WORKER_START_WINDOW`` did. Until then a turn that runs anyway takes them
        along — for a short job, the one that records its end: one turn instead of two."""
        if now or self.stopping:
            return bool(starts)
        waited = time.monotonic() - settings.CORE4_WORKER_START_WINDOW
        return any(slot.start_reported <= waited for slot in starts)

    def _next_record(self) -> float:
        """When (``time.monotonic()``) a turn is due for what is not recorded yet: a start
        whose window is over, a job recorded apart whose retry is due (inf: none)."""
        at = math.inf
        for slot in (*self.processes.slots.values(), *self.processes.unsettled):
            if slot.apart_at is not None:  # its start waits for its retry too
                at = min(at, slot.apart_at)
            elif slot.start_due:
                at = min(at, slot.start_reported + settings.CORE4_WORKER_START_WINDOW)
        return at

    @staticmethod
    def _transition(slot: Slot, func: Callable[..., Any], *args: Any) -> None:
        try:
            func(*args)
        except JobError as exc:
            log.warning("job [%s]: %s", slot.job_id, exc)
