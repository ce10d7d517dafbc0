"""The worker: a supervisor that picks jobs and runs each in a forked process.

This module is the loop: it sleeps in ``select()`` on the job pipes, the fork server's
socket, a self-pipe for signals and, on PostgreSQL, a ``LISTEN`` connection that enqueue
transactions ``NOTIFY`` (on SQLite it polls every ``CORE4_WORKER_POLL`` seconds); then it
takes a turn: record what the job processes reported, settle ended processes and pick jobs
for free slots in one transaction (``transitions.batch``: one commit for all of it), and
fork the picked jobs. Around it, in their own modules:

* :mod:`jobqueue.processes` — the job processes (spawn through the fork server, reports,
  reap, output); :mod:`jobqueue.pool` — the opt-in warm pool of reused job processes;
* :mod:`jobqueue.housekeeping` — every ``CORE4_WORKER_TICK`` seconds: heartbeat, kill
  requests, non-stop and zombie flags, remove sweep, jobs of dead workers, halt/pause;
* :mod:`jobqueue.duties` — leased periodic duties, run by one worker of the cluster: the
  summary every ``CORE4_SUMMARY_INTERVAL`` seconds, the daily commands;
* :mod:`jobqueue.stopping` — how it stops: signals, halt, the grace period, what it says;
* :mod:`jobqueue.recording` — the transitions of what the job processes reported, and how
  the jobs of a failed turn are recorded apart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection

from core4api.ids import utcnow
from jobqueue import transitions
from jobqueue.duties import Duties, default_duties
from jobqueue.housekeeping import Housekeeping, WorkerExists
from jobqueue.models import Job, Switches
from jobqueue.pool import run_mode
from jobqueue.processes import Processes
from jobqueue.recording import Recording
from jobqueue.stopping import Stopping

__all__ = ["Worker", "WorkerExists"]

log = logging.getLogger(__name__)


class Worker(Recording, Stopping):
    """One worker process: ``run()`` it until SIGTERM, SIGINT or halt."""

    def __init__(self, identifier: str, concurrency: int | None = None, pool: bool = False):
        if not identifier or len(identifier) > 255 or any(c.isspace() for c in identifier):
            raise ValueError(f"invalid worker identifier [{identifier}]")
        self.identifier = identifier
        self.concurrency = concurrency or settings.CORE4_WORKER_CONCURRENCY
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.pool = pool  # every job in a pool process (else: the job class's ``run_mode``)
        self.stopping = False
        self.stop_deadline: float | None = None
        self.stop_reason = ""  # why it stops: a signal's name, "halt", "stop requested by …"
        self.signals = 0  # SIGINT/SIGTERM received: the second one stops at once
        self.announce = False  # say what the stop waits for (in the loop, not the handler)
        self.stop_now = False  # end running jobs now (second signal)
        self.last_signal = ""
        self.wanted = True  # look for work in this turn
        self.next_tick = 0.0
        self.next_due: float | None = None
        self.listener: Any = None  # psycopg connection LISTENing for new work
        self.switches_known = False  # no change of the switches announced since their read
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.postgres = connection.vendor == "postgresql"
        self.processes = Processes(identifier, self._keep, close=(self.wake_r, self.wake_w))
        self.housekeeping = Housekeeping(identifier, self.processes, halt=self.halt)
        self.duties = Duties(identifier, default_duties(identifier, self._keep))

    def _keep(self) -> tuple[Any, ...]:
        """What a forked process must not close: the LISTEN connection."""
        return (self.listener,)

    # --- lifecycle ---------------------------------------------------------------------------
    def startup(self) -> None:
        """Register (raises ``WorkerExists``), listen for new work, start the fork server."""
        self.housekeeping.register(self.concurrency)
        if self.postgres:
            self._listen()
        self.processes.server()
        log.info("start worker [%s] on %s, concurrency %d", self.identifier,
                 self.housekeeping.hostname, self.concurrency)  # fmt: skip

    def _listen(self) -> None:
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        self.listener = psycopg.connect(**params, autocommit=True)
        self.listener.execute(f"LISTEN {transitions.NOTIFY_CHANNEL}")
        self.switches_known = False  # changes while not listening were not announced

    def shutdown(self) -> None:
        """Kill what still runs, record its end, give up leases and the registration."""
        self.processes.kill_all(f"worker [{self.identifier}] stopped", interrupted=True)
        deadline = time.monotonic() + 5
        while self.processes.slots and time.monotonic() < deadline:
            self._wait(0.05)
            self.processes.reap()
        self.processes.abandon()
        with contextlib.suppress(Exception):
            self.record(pick=False)
        self.processes.close()
        with contextlib.suppress(Exception):
            self.duties.release()
            self.housekeeping.unregister()
        if self.listener is not None:
            with contextlib.suppress(Exception):
                self.listener.close()
        for fd in (self.wake_r, self.wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        log.info("worker [%s] stopped", self.identifier)

    def run(self, until: Callable[[], bool] | None = None, timeout: float | None = None) -> None:
        """Run until stopped (signal, halt) — or, for tests, until ``until()`` is true."""
        self.startup()
        limit = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                self.step()
                if self.stopping and not self.processes.slots:
                    if self.announce:  # the stop came in this turn's pick: say so still
                        with contextlib.suppress(Exception):
                            self._announce()
                    break
                if until is not None and until():
                    break
                if limit is not None and time.monotonic() > limit:
                    raise TimeoutError(f"worker [{self.identifier}] run timed out")
        finally:
            self.shutdown()

    def step(self) -> None:
        """One turn of the loop; nothing a job or the database does may end the worker."""
        try:
            if self.processes.reap():
                self.wanted = True
                self._gather()
            now = time.monotonic()
            if now >= self.next_tick:
                self.next_tick = now + settings.CORE4_WORKER_TICK
                self.housekeeping.tick()
                self.duties.tend()
                self.wanted = True  # fallback: look for work at least once per tick
            self.duties.run_due()
            if self.next_due is not None and now >= self.next_due:
                self.next_due = None
                self.wanted = True
            if self.announce:
                self._announce()
            if self.stopping:
                self._end_jobs(now)
            if not self.postgres:
                self.wanted = True
            self.record()
        except Exception:
            log.exception("worker [%s]: step failed, retrying", self.identifier)
            self._recover()
            time.sleep(0.5)
        self._wait(self._timeout())

    def _gather(self) -> None:
        """A job ended: wait up to ``CORE4_WORKER_GATHER`` seconds for the jobs launched
        together with it to end too, so that one turn (one transaction) records them all —
        jobs of one launch tend to end together (short jobs, one batch of work). Jobs that
        run on are not waited for past the window; a stopping worker does not wait."""
        window = settings.CORE4_WORKER_GATHER
        if window <= 0 or self.stopping:
            return
        deadline = time.monotonic() + window
        while self.processes.siblings_running():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._wait(left)
            self.processes.reap()

    # --- the turn: recording and picking -----------------------------------------------------
    def record(self, pick: bool = True) -> None:
        """Record what the job processes reported and settle ended ones — in one database
        transaction (``transitions.batch``: one commit, one WAL flush, for everything that
        came in since the last turn) — then fill free slots and fork the picked jobs.

        A transition that is refused (``JobError``, e.g. a job settled meanwhile by someone
        else) is logged and skipped. If the transaction fails, nothing is marked done, and
        its jobs are recorded apart (:meth:`_record_apart`) until their record succeeds: a
        job whose record keeps failing does not hold up the others.
        """
        processes = self.processes
        pending = [*processes.slots.values(), *processes.unsettled]
        apart = [slot for slot in pending if slot.apart_at is not None]
        if apart:
            self._record_apart(apart, everything=not pick)
            pending = [slot for slot in pending if slot.apart_at is None]
        starts = [slot for slot in pending if slot.start_due]
        progress = [slot for slot in pending if slot.progress_due]
        settle = [slot for slot in processes.unsettled if slot.apart_at is None]
        free = 0
        if pick and self.wanted and not self.stopping:
            free = max(self.concurrency - len(processes.slots), 0)
        if not (progress or settle or free or self._starts_due(starts, now=not pick)):
            return
        ids = [slot.job_id for slot in (*starts, *progress, *settle)]
        picked: list[Job] = []
        busy: set[str] = set()
        try:
            with transitions.batch(ids):
                self._apply(starts, progress, settle)
                if free:
                    picked = self._pick(free, busy)
        except Exception:
            now = time.monotonic()
            for slot in (*starts, *progress, *settle):
                slot.apart_at = now  # the next turn records each of these jobs apart
            raise
        self._recorded(starts, progress, settle)
        if free:
            # a name another worker was picking at that moment: look again next turn
            self.wanted = bool(busy)
        processes.launch(*picked)
        if free and len(picked) < free:
            self._schedule_due()  # after the commit and the launch: not on the pick-up path

    def _pick(self, free: int, busy: set[str]) -> list[Job]:
        """Claim up to ``free`` jobs (inside :meth:`record`'s batch: never waiting)."""
        switches = self._switches()  # a pause counts from the moment it is set
        if switches.paused or self.housekeeping.quiet:
            return []
        if self.stopping:
            return []
        return transitions.pick_many(
            self.identifier, free, paused=switches.projects, busy=busy, run_mode=self._run_mode
        )

    def _switches(self) -> Switches:
        """Pause, halt and this worker's mode, as of now. Listening (PostgreSQL), they are
        read again only when a change was announced (``NOTIFY`` with ``control``, sent by a
        trigger on ``Control``; looked for here, so a change whose notice arrived counts for
        this pick) and every tick; else before every pick."""
        if self.listener is not None:
            self._notified()
            if self.switches_known:
                return self.housekeeping.switches
        switches = self.housekeeping.read_switches()
        self.switches_known = self.listener is not None
        return switches

    def _run_mode(self, name: str) -> str:
        return run_mode(name, everything=self.pool)

    def _schedule_due(self) -> None:
        """Wake up when the next deferred or failed job is due (no NOTIFY tells that)."""
        if not self.postgres:
            return
        due = Job.objects.next_due()
        if due is not None:
            delay = max((due - utcnow()).total_seconds(), 0.0) + 0.01
            self.next_due = time.monotonic() + delay

    # --- select ------------------------------------------------------------------------------
    def _timeout(self) -> float:
        if any(slot.eof for slot in self.processes.slots.values()):
            return 0.005
        now = time.monotonic()
        limit = min(self.next_tick, self.duties.next_at()) - now
        if self.next_due is not None:
            limit = min(limit, self.next_due - now)
        if not self.postgres:
            limit = min(limit, settings.CORE4_WORKER_POLL)
        limit = min(limit, self._next_record() - now)
        if self.wanted and not self.stopping and len(self.processes.slots) < self.concurrency:
            limit = 0
        return max(limit, 0.0)

    def _wait(self, timeout: float) -> None:
        fds = [self.wake_r, *self.processes.fds()]
        if self.listener is not None:
            fds.append(self.listener.fileno())
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            return
        for fd in ready:
            if fd == self.wake_r:
                with contextlib.suppress(OSError):
                    os.read(self.wake_r, 4096)
            elif self.listener is not None and fd == self.listener.fileno():
                self._notified()
            else:
                self.processes.ready(fd)

    def _notified(self) -> None:
        """New work was enqueued (``NOTIFY``); a lost ``LISTEN`` connection is reopened."""
        try:
            for notice in self.listener.notifies(timeout=0):
                if notice.payload == transitions.CONTROL_CHANGED:
                    self.switches_known = False
            self.wanted = True
        except Exception:
            log.exception("LISTEN connection lost; reconnecting")
            with contextlib.suppress(Exception):
                self.listener.close()
            self.listener = None
            with contextlib.suppress(Exception):
                self._listen()
