"""How a worker stops: signals, halt, the grace period, and what it says while it waits.

The first SIGINT/SIGTERM (or ``coco --halt``, ``coco --stop``, ``PUT /system/worker/<id>/stop``)
stops picking and gives running jobs ``CORE4_WORKER_GRACE`` seconds; a second signal ends them
at once; a third ends the process without settling anything (a database that does not answer).
Jobs ended by a stop are settled as interrupted (``transitions.interrupted``: failed and retried,
the attempt not counted). Signal handlers only set flags and wake the loop through its
self-pipe; the loop (:class:`jobqueue.worker.Worker`, which mixes this in) says and does the rest.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from jobqueue.housekeeping import Housekeeping
    from jobqueue.processes import Processes

log = logging.getLogger("jobqueue.worker")  # the worker speaks: the same logger as the loop


class Stopping:
    """The stop state of a worker and its transitions (mixed into ``Worker``)."""

    identifier: str
    processes: Processes
    housekeeping: Housekeeping
    wake_w: int
    stopping: bool
    stop_deadline: float | None
    stop_reason: str
    signals: int
    announce: bool
    stop_now: bool
    last_signal: str

    def request_stop(self, reason: str = "stop requested") -> None:
        """Stop picking; running jobs may end within ``CORE4_WORKER_GRACE`` seconds, then
        they are ended and settled as interrupted (``transitions.interrupted``)."""
        if not self.stopping:
            self.stopping = True
            self.stop_reason = reason
            self.stop_deadline = time.monotonic() + settings.CORE4_WORKER_GRACE
            self.announce = True
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self.wake_w, b"x")

    def on_signal(self, signum: int, _frame: Any = None) -> None:
        """SIGINT/SIGTERM: the first stops gracefully, the second at once (running jobs are
        ended and settled), a third ends the process without settling (the fork server
        still ends the job processes). Only flags are set here; the loop says so and acts
        (it is woken through the self-pipe)."""
        self.signals += 1
        name = self.last_signal = signal.Signals(signum).name
        if self.signals >= 3:  # stuck settling (a database that does not answer): leave now
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if self.signals >= 2:
            self.stop_now = True
            self.stop_reason = self.stop_reason or name
            self.stopping = True
            self.announce = True
            self._wake()
        elif self.stopping:
            self.announce = True  # stopping already (halt): say how to stop at once
            self._wake()
        else:
            self.request_stop(name)

    def halt(self, reason: str = "halt") -> None:
        """``coco --halt`` since this worker started, or a stop asked of this worker
        (``coco --stop``, ``PUT /system/worker/<id>/stop``): found by the housekeeping."""
        self.request_stop(reason)

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)

    def _announce(self) -> None:
        """Say at once what the stop waits for, and how to stop at once; show the worker
        as stopping (``/system``)."""
        self.announce = False
        with contextlib.suppress(Exception):
            self.housekeeping.stopping(self.stop_reason)
        running = len(self.processes.slots)
        again = {"SIGINT": "Ctrl-C again", "SIGTERM": "SIGTERM again"}.get(
            self.last_signal, "Ctrl-C or SIGTERM"
        )
        if self.stop_now:
            if running:
                log.warning("worker [%s] stopping now: ending %d running job%s (retried later)",
                            self.identifier, running, "" if running == 1 else "s")  # fmt: skip
            return
        if not running:
            log.warning("worker [%s] stopping (%s): no job running", self.identifier,
                        self.stop_reason)  # fmt: skip
            return
        grace = settings.CORE4_WORKER_GRACE
        log.warning(
            "worker [%s] stopping (%s): %d job%s running, waiting up to %g s — %s to stop now",
            self.identifier, self.stop_reason, running, "" if running == 1 else "s", grace, again,
        )  # fmt: skip

    def _end_jobs(self, now: float) -> None:
        """A second signal, or the grace period is over: end the running jobs; they are
        settled as interrupted (retried, the attempt not counted)."""
        if self.stop_now:
            reason = f"worker [{self.identifier}] stopped at once ({self.stop_reason})"
        elif self.stop_deadline is not None and now > self.stop_deadline:
            grace = settings.CORE4_WORKER_GRACE
            reason = (
                f"worker [{self.identifier}] stopped ({self.stop_reason}): "
                f"grace period of {grace:g} s over"
            )
        else:
            return
        self.processes.kill_all(reason, interrupted=True)
