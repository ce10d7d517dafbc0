"""Every change of a job's state or flags, and nothing else, happens here.

Each public function is one transition: one database transaction that writes the job,
shifts the per-state counters (``QueueCount``) and sends ``signals.job_transition`` with
the event name, the job, the counts after the change and the author — in that
transaction, so a receiver that stores an event stores it if and only if the change
commits. Transitions that make work available also ``NOTIFY`` waiting workers
(PostgreSQL; delivered at commit).

Functions raise ``JobNotFound`` for unknown or finished (journaled) ids and
``JobStateError`` when the job's state does not allow the change. Worker-side
transitions take ``worker`` (the identifier) and refuse to touch a job that is no longer
running on that worker (``JobStateError``), so a late report of a settled job is harmless.
"""

from __future__ import annotations

import copy
import getpass
import hashlib
import json
import logging
import os
import socket
from collections.abc import Callable, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    IntegrityError,
    connection,
    connections,
    transaction,
)
from django.db.models import Count, F, Field, Q
from django.db.models.base import DEFERRED as NOT_LOADED
from django.dispatch import Signal

from core4api.ids import utcnow
from jobqueue import backoff
from jobqueue.errors import JobError, JobExists, JobInvalid, JobNotFound, JobStateError
from jobqueue.models import Job, QueueCount
from jobqueue.signals import (
    StatementPart,
    job_transition,
    job_transition_statement,
    job_transitions,
    job_transitions_statement,
)
from jobqueue.states import (
    COMPLETE,
    COMPLETE_JOB,
    DEFER_JOB,
    DEFERRED,
    ENQUEUE_JOB,
    ERROR,
    ERROR_JOB,
    FAILED,
    FAILED_JOB,
    FAILED_START,
    FLAG_NONSTOP,
    FLAG_ZOMBIE,
    INACTIVATE_JOB,
    INACTIVE,
    KILL_JOB,
    KILLED,
    PENDING,
    PICKABLE,
    REMOVE_JOB,
    REQUEST_KILL_JOB,
    REQUEST_REMOVE_JOB,
    REQUEST_START_JOB,
    RESTART_STOPPED,
    RESTART_WAITING,
    RUNNING,
    START_JOB,
    STOPPED,
    UNFINISHED,
    WAITING,
)

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "core4_queue"
#: the payload of the ``NOTIFY`` a change of a switch in ``Control`` sends (its trigger:
#: migration 0006); new work is announced with an empty one
CONTROL_CHANGED = "control"


@cache
def os_user() -> str:
    """The OS user of this process: the author of what nobody in particular caused."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return str(os.getuid())


@cache
def hostname() -> str:
    return socket.gethostname()


def author_of(by: str | None) -> str:
    return by or os_user()


def args_hash(args: dict) -> str:
    """Identity of a job's arguments: key order does not matter, ``1`` differs from ``"1"``."""
    try:
        text = json.dumps(args, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JobInvalid(f"job arguments must be JSON values: {exc}") from None
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


# --- counts ---------------------------------------------------------------------------------
def counts() -> dict[str, int]:
    """Unfinished jobs per state, zero states omitted (``{}`` when the queue is empty)."""
    rows = QueueCount.objects.filter(n__gt=0).order_by("state").values_list("state", "n")
    return dict(rows)


def _counted(job: Job) -> str | None:
    return None if job.journaled else job.state


#: PostgreSQL: shift the counters of at most two states and read all counts, in one round
#: trip. The shifted rows are locked in state order first (no deadlocks between transitions
#: shifting in opposite directions); their new values come from RETURNING, the others from
#: the statement's snapshot (a data-modifying CTE's changes are invisible to the rest of it).
_SHIFT_SQL = """
WITH locked AS (
    SELECT state FROM {table} WHERE state = ANY(%(states)s) ORDER BY state FOR UPDATE
), shifted AS (
    UPDATE {table} AS c
    SET n = c.n + CASE c.state WHEN %(old)s THEN -1 ELSE 1 END
    FROM locked WHERE c.state = locked.state
    RETURNING c.state, c.n
)
SELECT state, n FROM shifted
UNION ALL
SELECT state, n FROM {table} WHERE NOT (state = ANY(%(states)s))
"""


def _shift(old: str | None, new: str | None) -> dict[str, int] | None:
    """Move one job between counters; rows locked in state order (no deadlocks).

    Returns the counts after the change (as :func:`counts`) when it read them on the way
    (PostgreSQL), else None.
    """
    if old == new:
        return None
    deltas = {}
    if old:
        deltas[old] = -1
    if new:
        deltas[new] = 1
    pending = _PENDING.get()
    if pending is not None and pending.counters is not None:
        return pending.shift(deltas)
    if connection.vendor == "postgresql":
        sql = _SHIFT_SQL.format(table=connection.ops.quote_name(QueueCount._meta.db_table))
        params: dict[str, Any] = {"states": sorted(deltas), "old": old or ""}
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        shifted = {state for state, _ in rows} & set(deltas)
        if len(shifted) == len(deltas):
            now = {state: n for state, n in sorted(rows) if n > 0}
            if _IN_BATCH.get():
                _BATCH.set(now)
            return now
        # a counter row is missing (after a flush; migrate creates them): the rows that
        # exist were shifted, create the others
        _BATCH.set(None)
        _create_counters({state: deltas[state] for state in deltas if state not in shifted})
        return None
    for state in sorted(deltas):
        if not QueueCount.objects.filter(state=state).update(n=F("n") + deltas[state]):
            _create_counters({state: deltas[state]})
    return None


def _create_counters(deltas: dict[str, int]) -> None:
    for state, delta in sorted(deltas.items()):
        _, created = QueueCount.objects.get_or_create(state=state, defaults={"n": max(delta, 0)})
        if not created:  # another transaction created it meanwhile
            QueueCount.objects.filter(state=state).update(n=F("n") + delta)


def recount() -> dict[str, int]:
    """Re-derive the counters from the jobs (startup repair; safe while others transition).

    Holding every counter row locked, the jobs' committed states match the counters
    exactly: a transition commits its job change and its counter shift together.
    """
    with transaction.atomic():
        for state in UNFINISHED:
            QueueCount.objects.get_or_create(state=state)
        list(QueueCount.objects.select_for_update().order_by("state"))
        actual = dict(
            Job.objects.filter(journaled=False)
            .values("state")
            .annotate(n=Count("id"))
            .values_list("state", "n")
        )
        for state in UNFINISHED:
            QueueCount.objects.filter(state=state).exclude(n=actual.get(state, 0)).update(
                n=actual.get(state, 0)
            )
    return counts()


def _emit(event: str, job: Job, by: str | None, now_counts: dict[str, int] | None = None) -> None:
    if now_counts is None:
        known = _BATCH.get()
        now_counts = dict(known) if known is not None else counts()
    pending = _PENDING.get()
    if pending is not None:  # sent at the end of the batch, with the job as it is now
        pending.events.append((event, copy.copy(job), now_counts, author_of(by)))
        return
    job_transition.send(sender=Job, event=event, job=job, counts=now_counts, author=author_of(by))


def _emit_many(
    items: list[tuple[str, Job, dict[str, int]]], by: str | None, *, statement: bool = False
) -> None:
    """Several transitions of one transaction: ``job_transitions`` once (receivers that
    store them together), then each one's ``job_transition`` (``batched=True``).
    ``statement``: written by one statement with the ``job_transition_statement`` parts:
    no ``job_transitions``."""
    author = author_of(by)
    if not statement:
        job_transitions.send(sender=Job, items=items, author=author)
    for event, job, now_counts in items:
        job_transition.send(
            sender=Job, event=event, job=job, counts=now_counts, author=author, batched=True
        )


def notify() -> None:
    """Wake idle workers at commit (PostgreSQL ``NOTIFY``; SQLite workers poll)."""
    pending = _PENDING.get()
    if pending is not None:
        pending.notify = True  # once, at the end of the batch
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {NOTIFY_CHANNEL}")


def _save(job: Job, old: str | None, *fields: str) -> dict[str, int] | None:
    """Write ``fields`` (and what the batch left unsaved of the job) and shift the
    counters; the counts after it if they were read. In a batch on PostgreSQL the write is
    left to :meth:`_Pending.write` (the batch's job writes together, before its next read
    of jobs)."""
    pending = _PENDING.get()
    if pending is not None and pending.counters is not None:
        pending.defer(job, fields, old)
        return _shift(old, _counted(job))
    unsaved = pending.unsaved.pop(job.pk, None) if pending is not None else None
    if unsaved is not None and unsaved[0] is not job:  # read again meanwhile: its own save
        _update(unsaved[0], unsaved[1])
        unsaved = None
    _update(job, {*fields, *unsaved[1]} if unsaved else fields)
    return _shift(old, _counted(job))


@cache
def _job_fields() -> dict[str, Field]:
    """``Job``'s columns by field name (what a transition's write may name)."""
    return {field.name: field for field in Job._meta.local_concrete_fields}


#: ``UPDATE`` statements of :func:`_update` by the fields they write (a few shapes)
_UPDATES: dict[tuple[str, ...], tuple[str, tuple[Field, ...]]] = {}


def _update(job: Job, fields) -> None:
    """``job.save(update_fields=fields)`` of a transition, without the ORM's build of the
    statement per call (it took longer than running it): one compiled ``UPDATE`` per set of
    fields; ``Job`` has no ``pre_save``/``post_save`` receivers nor ``auto_now`` fields."""
    names = tuple(sorted(fields))
    compiled = _UPDATES.get(names)
    if compiled is None:
        quote = connection.ops.quote_name
        model_fields = tuple(_job_fields()[name] for name in names)
        sets = ", ".join(f"{quote(field.column)} = %s" for field in model_fields)
        where = quote(Job._meta.pk.column)
        sql = f"UPDATE {quote(Job._meta.db_table)} SET {sets} WHERE {where} = %s"
        compiled = _UPDATES[names] = (sql, model_fields)
    sql, model_fields = compiled
    params = [field.get_db_prep_save(getattr(job, field.attname), connection)
              for field in model_fields]  # fmt: skip
    params.append(job.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != 1:
            raise DatabaseError(f"job [{job.pk}] was not written ({cursor.rowcount} rows)")


#: ``UPDATE … FROM (VALUES …)`` statements of :func:`_update_many` by (fields, number of jobs)
_UPDATES_MANY: dict[tuple[tuple[str, ...], int], tuple[str, list[Field]]] = {}


def _update_many_sql(names: tuple[str, ...], rows: int) -> tuple[str, list[Field]]:
    quote = connection.ops.quote_name
    pk = Job._meta.pk
    columns = [pk, *(_job_fields()[name] for name in names)]
    row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    aliases = ", ".join(f"c{index}" for index in range(len(columns)))
    sets = ", ".join(
        f"{quote(field.column)} = v.c{index}" for index, field in enumerate(columns) if index
    )
    sql = (
        f"UPDATE {quote(Job._meta.db_table)} AS j SET {sets} "
        f"FROM (VALUES {', '.join([row] * rows)}) AS v({aliases}) "
        f"WHERE j.{quote(pk.column)} = v.c0"
    )
    return sql, columns


def _update_many_statement(names: tuple[str, ...], rows: int) -> tuple[str, list[Field]]:
    """The ``UPDATE … FROM (VALUES …)`` of ``rows`` jobs' fields ``names`` (sorted), and its
    columns (parameters per row, in order): built once per shape."""
    compiled = _UPDATES_MANY.get((names, rows))
    if compiled is None:
        if len(_UPDATES_MANY) >= _COMPILED_MAX:
            _UPDATES_MANY.clear()
        compiled = _UPDATES_MANY[names, rows] = _update_many_sql(names, rows)
    return compiled


def _rows_params(jobs: list[Job], columns: list[Field]) -> list[Any]:
    """The parameters of :func:`_update_many_statement`'s rows: per job, its ``columns``."""
    return [field.get_db_prep_save(getattr(job, field.attname), connection)
            for job in jobs for field in columns]  # fmt: skip


def _update_many(jobs: list[Job], fields) -> None:
    """:func:`_update` of several jobs with the same ``fields``: one statement on
    PostgreSQL (``UPDATE … FROM (VALUES …)`` with casts), one per job elsewhere."""
    if len(jobs) == 1 or connection.vendor != "postgresql":
        for job in jobs:
            _update(job, fields)
        return
    sql, columns = _update_many_statement(tuple(sorted(fields)), len(jobs))
    params = _rows_params(jobs, columns)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != len(jobs):
            raise DatabaseError(f"{len(jobs)} jobs to write, {cursor.rowcount} written")


#: Inside :func:`batch`: the counts after its last change (PostgreSQL; None: read them).
_BATCH: ContextVar[dict[str, int] | None] = ContextVar("batch", default=None)
_IN_BATCH: ContextVar[bool] = ContextVar("in_batch", default=False)
#: Inside :func:`batch`: its jobs, read (and locked) once by the batch, by id.
_JOBS: ContextVar[dict[str, Job] | None] = ContextVar("batch_jobs", default=None)


class _Pending:
    """What the transitions of a :func:`batch` leave for its end, to be written together
    just before it commits: the jobs' own writes, their events, one ``NOTIFY``, and on
    PostgreSQL the counter shifts (the batch holds every counter row locked, so the counts
    after each change are known exactly without writing them one by one) — there all of
    it in one statement (:func:`_write_counters`), the events as the
    ``job_transitions_statement`` receivers' parts."""

    def __init__(self, counters: dict[str, int] | None):
        #: every counter row's count as of the batch's last change (PostgreSQL), else None
        self.counters = counters
        self.start = dict(counters or {})
        self.events: list[tuple[str, Job, dict[str, int], str]] = []
        self.notify = False
        #: fields of jobs changed but not written yet (``start_job``: pid, inactive_at — read
        #: by no pick), written by the job's next save in the batch or at its end
        self.unsaved: dict[str, tuple[Job, set[str]]] = {}
        #: the unsaved jobs whose row, as written, a pick may read (its state pickable)
        self.pickable: set[str] = set()

    def defer(self, job: Job, fields, old: str | None = None) -> None:
        """``job``'s ``fields`` to write with :meth:`write` (PostgreSQL); ``old``: its state
        as its row has it (before its first change in the batch)."""
        unsaved = self.unsaved.get(job.pk)
        if unsaved is not None and unsaved[0] is not job:  # read again meanwhile
            self.write()
            unsaved = None
        if unsaved is None and old in PICKABLE:
            self.pickable.add(job.pk)
        self.unsaved.setdefault(job.pk, (job, set()))[1].update(fields)

    def write(self) -> None:
        """Write the jobs' deferred fields: one statement per set of fields."""
        for names, jobs in self.take().items():
            _update_many(jobs, names)

    def write_before_pick(self) -> None:
        """:meth:`write`, if a pick could read a row of an unsaved job (in its old state,
        and change it again); else its writes wait for the end of the batch. The jobs a
        worker records (started and ended ones) were running: no pick reads them."""
        if self.pickable:
            self.write()

    def take(self) -> dict[frozenset[str], list[Job]]:
        """The jobs with deferred fields, by the set of fields (no longer deferred)."""
        unsaved, self.unsaved = self.unsaved, {}
        self.pickable = set()
        groups: dict[frozenset[str], list[Job]] = {}
        for job, fields in unsaved.values():
            groups.setdefault(frozenset(fields), []).append(job)
        return groups

    def shift(self, deltas: dict[str, int]) -> dict[str, int]:
        counters = self.counters
        assert counters is not None
        for state, delta in deltas.items():
            counters[state] = counters.get(state, 0) + delta
        now = {state: n for state, n in sorted(counters.items()) if n > 0}
        _BATCH.set(now)
        return now

    def flush(self) -> None:
        events, self.events = self.events, []
        parts: list[StatementPart] = []
        if self.counters is None:
            self.write()
        else:
            parts = _statement_parts(job_transitions_statement, items=events)
            if not _parts_suffice(parts, job_transitions):
                parts = []  # the events go to the job_transitions receivers instead
            if _write_counters(self.start, self.counters, self.notify, self.take(), parts):
                self.notify = False  # sent with the counters
        run: list[tuple[str, Job, dict[str, int]]] = []
        for index, (event, job, now_counts, author) in enumerate(events):
            run.append((event, job, now_counts))
            if index + 1 == len(events) or events[index + 1][3] != author:
                # consecutive events of one author together; written by the parts, if any
                _emit_many(run, author, statement=bool(parts))
                run = []
        if self.notify:
            self.notify = False
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"NOTIFY {NOTIFY_CHANNEL}")


def _write_counters(
    before: dict[str, int],
    after: dict[str, int],
    notify: bool = False,
    jobs: dict[frozenset[str], list[Job]] | None = None,
    parts: Sequence[StatementPart] = (),
) -> bool:
    """Shift the counter rows (locked by the batch) from ``before`` to ``after``: one UPDATE
    for the rows that exist, created for the others (after a flush; migrate creates them).
    ``notify``: ``NOTIFY`` in the same statement; True if it was sent. ``jobs``: the
    batch's job writes left for its end (by set of fields), in the same statement too —
    each a data-modifying CTE (PostgreSQL), its row count checked as :func:`_update_many`
    checks it; and the ``parts`` of the ``job_transitions_statement`` receivers (the
    events), each part's ``done`` called with its result: one round trip for all of it."""
    deltas = {state: after[state] - before.get(state, 0) for state in sorted(after)}
    existing = {state: d for state, d in deltas.items() if d and state in before}
    missing = {state: d for state, d in deltas.items() if d and state not in before}
    if missing:  # before the parts' commit-order lock (counter rows are locked before it)
        _create_counters(missing)
    ctes: list[str] = []
    params: list[Any] = []
    expected: list[int] = []
    for names, group in (jobs or {}).items():
        sql, columns = _update_many_statement(tuple(sorted(names)), len(group))
        ctes.append(f"w{len(ctes)} AS ({sql} RETURNING 1)")
        expected.append(len(group))
        params += _rows_params(group, columns)
    if existing:
        table = connection.ops.quote_name(QueueCount._meta.db_table)
        values = ", ".join(["(%s, %s)"] * len(existing))
        params += [item for pair in existing.items() for item in pair]
        ctes.append(
            f"shifted AS (UPDATE {table} AS c SET n = c.n + v.delta "
            f"FROM (VALUES {values}) AS v(state, delta) WHERE c.state = v.state)"
        )
    for part in parts:
        ctes.append(part.sql.strip())
        params += part.params
    sent = bool(ctes) and notify
    if ctes:  # data-modifying CTEs run whether read or not
        counts = [f"(SELECT count(*) FROM w{index})" for index in range(len(expected))]
        counts += [f"(SELECT {column} FROM {cte})" for cte, column in
                   (part.result for part in parts)]  # fmt: skip
        if sent:
            counts.append(f"pg_notify('{NOTIFY_CHANNEL}', '')")
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {', '.join(ctes)} SELECT {', '.join(counts) or '1'}", params)
            row = list(cursor.fetchone())
        written = row[: len(expected)]
        if written != expected:
            raise DatabaseError(f"jobs to write by field set: {expected}, written: {written}")
        for part, result in zip(parts, row[len(expected) :], strict=False):
            part.done(result)
    return sent


#: Inside :func:`batch`: what its transitions leave for its end (:class:`_Pending`).
_PENDING: ContextVar[_Pending | None] = ContextVar("batch_pending", default=None)


def _step():
    """The transaction of one worker-side transition: its own, or inside :func:`batch` the
    batch's, without a savepoint — a transition refuses (``JobError``) before it writes, and
    any other error fails the whole batch (the worker's next turn tries again)."""
    return nullcontext() if _IN_BATCH.get() else transaction.atomic()


@contextmanager
def batch(job_ids: list[str]):
    """One transaction for several transitions of the jobs ``job_ids`` (a worker records
    what its job processes reported since its last turn: one commit instead of one each).

    Every transition locks its job row, then the counter rows it shifts (in state order),
    then the events' commit-order lock. Several transitions in one transaction would take
    them out of that order — a counter row after the commit-order lock, a second job row
    after a counter row — and could deadlock with a single transition doing it the usual
    way. So the batch takes them in that order up front: its job rows (by id), then every
    counter row (by state) — even for one transition, which may remove its job in a second
    shift (a requested removal). The transitions inside only re-enter locks they hold. Picks
    may follow, with ``pick(busy=...)``: they lock rows only with
    ``SKIP LOCKED`` and per-name locks only if free, so they never wait inside the batch.
    The transitions inside take no savepoints (two statements each): a refused one
    (``JobError``) refuses before it writes anything; any other error fails the batch. With
    every counter row locked, the counts read with the locks stay exact for the whole batch
    (PostgreSQL): a transition that shifts none (``start_job``) does not read them again; and
    the job rows are read with their locks, once: a transition of one of them takes it from
    there (the same object for two transitions of a job in one batch: each sees the other's
    change) instead of reading it again.

    What the transitions leave for the end (:class:`_Pending`) is written there, still in
    the transaction: the jobs' writes (a started job's pid with its end, if that is in the
    batch too), their events, in the transitions' order (``job_transition`` with
    ``batched=True`` each, with a copy of its job as it was after that change; stored by the
    receivers' parts of the last statement, else through ``job_transitions``: one INSERT),
    one ``NOTIFY`` and, on PostgreSQL, the counter shifts — there in one statement. A batch
    that raises writes none of it.
    """
    with transaction.atomic():
        ids = sorted(set(job_ids))
        jobs: dict[str, Job] = {}
        postgres = connection.vendor == "postgresql"
        rows: list[tuple[str, int]] | None = None
        if ids and postgres:
            jobs, rows = _lock_jobs_and_counters(ids)
        elif ids:
            query = Job.objects.select_for_update().filter(pk__in=ids).order_by("pk")
            jobs = {job.pk: job for job in query}
        if rows is None and postgres:  # the ORM's build of this took longer than its run
            with connection.cursor() as cursor:
                cursor.execute(_counters_lock_sql())
                rows = [(state, n) for state, n in cursor.fetchall()]
        elif rows is None:
            counters = QueueCount.objects.select_for_update().order_by("state")
            rows = list(counters.values_list("state", "n"))
        pending = _Pending(dict(rows) if postgres else None)
        tokens = (
            _IN_BATCH.set(True),
            _BATCH.set({state: n for state, n in rows if n > 0} if postgres else None),
            _JOBS.set(jobs),
            _PENDING.set(pending),
        )
        try:
            yield
            _PENDING.reset(tokens[3])
            pending.flush()  # still inside the transaction: written with what it changed
        finally:
            if _PENDING.get() is pending:
                _PENDING.reset(tokens[3])
            _JOBS.reset(tokens[2])
            _BATCH.reset(tokens[1])
            _IN_BATCH.reset(tokens[0])


@cache
def _counters_lock_sql() -> str:
    """PostgreSQL: every counter row locked, in state order (a batch without jobs: a pick)."""
    return (
        f"SELECT state, n FROM {connection.ops.quote_name(QueueCount._meta.db_table)} "
        "ORDER BY state FOR UPDATE"
    )


#: PostgreSQL: a batch's job rows and then every counter row locked, in one round trip. The
#: counters' CTE reads the jobs' CTE in full first (its condition), so the job rows are all
#: locked before the first counter row is (the order every transition takes).
_LOCK_SQL = """
WITH jobs AS (SELECT * FROM {job_table} WHERE {pk} = ANY(%s) ORDER BY {pk} FOR UPDATE),
counters AS (
    SELECT state, n FROM {count_table} WHERE (SELECT count(*) FROM jobs) >= 0
    ORDER BY state FOR UPDATE
)
SELECT jobs.*, (SELECT jsonb_agg(jsonb_build_array(state, n) ORDER BY state) FROM counters)
       AS batch_counters
FROM jobs ORDER BY jobs.{pk}
"""


def _lock_jobs_and_counters(ids: list[str]) -> tuple[dict[str, Job], list[tuple[str, int]] | None]:
    """The jobs ``ids`` and the counter rows (state order), locked in one statement; None
    for the counters if none of the jobs exists (lock them on their own then)."""
    quote = connection.ops.quote_name
    sql = _LOCK_SQL.format(
        job_table=quote(Job._meta.db_table),
        count_table=quote(QueueCount._meta.db_table),
        pk=quote(Job._meta.pk.column),
    )
    jobs = _load_jobs(sql, [ids])
    if not jobs:
        return {}, None
    counters = jobs[0].batch_counters  # type: ignore[attr-defined]
    if isinstance(counters, str):  # Django loads jsonb as text
        counters = json.loads(counters)
    return {job.pk: job for job in jobs}, [(state, n) for state, n in counters or []]


def _lock(job_id: str) -> Job:
    if not isinstance(job_id, str) or not job_id:
        raise JobNotFound(f"job [{job_id}] not found")
    known = _JOBS.get()
    pending = _PENDING.get()
    try:
        job = known[job_id] if known and job_id in known else None
        if job is None and pending is not None and job_id in pending.unsaved:
            job = pending.unsaved[job_id][0]  # changed in the batch, not written yet
        job = job or Job.objects.select_for_update().get(pk=job_id)
    except Job.DoesNotExist:
        raise JobNotFound(f"job [{job_id}] not found") from None
    if job.journaled:
        raise JobNotFound(f"job [{job_id}] not found (finished as {job.state})")
    return job


def _lock_running(job_id: str, worker: str) -> Job:
    job = _lock(job_id)
    if job.state != RUNNING or job.locked_by != worker:
        raise JobStateError(f"job [{job_id}] is not running on worker [{worker}]")
    return job


def _error(exception: str, traceback: list[str] | None = None, at: datetime | None = None):
    return {
        "exception": exception,
        "timestamp": (at or utcnow()).isoformat(),
        "traceback": traceback,
    }


# --- enqueue ----------------------------------------------------------------------------------
def enqueue(
    name: str,
    settings: dict[str, Any],
    args: dict[str, Any],
    *,
    by: str | None = None,
    parent_id: str | None = None,
    trial: int = 0,
    schedule_id: str | None = None,
) -> Job:
    """Insert a pending job (``enqueue_job``). Settings and args must be validated already.
    ``schedule_id``: the ``Schedule`` that fired it (the scheduler, or "run now")."""
    digest = args_hash(args)
    # one statement: a transaction (or savepoint) only where it needs one (_insert_statement)
    atomic = nullcontext() if _one_statement() else transaction.atomic()
    try:
        with atomic:
            return _insert(
                name, settings, args, digest, by, parent_id, trial, schedule_id, savepoint=True
            )
    except IntegrityError:
        raise JobExists(name, args) from None


def _one_statement() -> bool:
    """Is an enqueue one statement here (PostgreSQL, outside a worker's turn)?"""
    return connection.vendor == "postgresql" and not _IN_BATCH.get()


def _insert(  # noqa: PLR0917
    name, settings, args, digest, by, parent_id, trial, schedule_id=None, *, savepoint=False
) -> Job:
    """Insert a pending job (in the caller's transaction, if one is open; ``savepoint``:
    a failed one, e.g. a duplicate, leaves that transaction usable)."""
    job = _new_job(name, settings, args, digest, by, schedule_id, parent_id, trial)
    if _one_statement():
        _insert_statement(job, by, savepoint)
        return job
    job.save(force_insert=True)
    _emit(ENQUEUE_JOB, job, by, _shift(None, PENDING))
    notify()
    return job


#: PostgreSQL: a new pending job in one statement — the job row, the ``pending`` counter
#: (created if missing), the counts after it (the shifted row from RETURNING, the others
#: from the statement's snapshot), the ``job_transition_statement`` parts (the event row)
#: and the ``NOTIFY``. Each CTE reads the one before, so they run in this order: job row,
#: counter row, then what the parts lock (the lock order of every transition).
_INSERT_SQL = """
WITH job AS (INSERT INTO {job_table} ({columns}) VALUES ({values}) RETURNING id),
shifted AS (
    INSERT INTO {count_table} AS c (state, n) SELECT {pending}, 1 FROM job
    ON CONFLICT (state) DO UPDATE SET n = c.n + 1
    RETURNING c.state, c.n
),
counts AS (
    SELECT COALESCE(jsonb_object_agg(state, n) FILTER (WHERE n > 0), '{{}}') AS queue,
           COALESCE(SUM(n) FILTER (WHERE n > 0), 0)::integer AS total
    FROM (SELECT state, n FROM shifted
          UNION ALL SELECT state, n FROM {count_table} WHERE state <> {pending}) AS now
){parts}
SELECT counts.queue{results}, pg_notify({channel}, '') FROM counts{joins}
"""
#: (at most 50 parameters: psycopg caches the parsing of a statement with no more)


@cache
def _job_insert() -> tuple[str, str, tuple[tuple[str, Callable], ...]]:
    """The columns, placeholders and (attname, ``get_db_prep_save``) of a ``Job`` INSERT
    (as the ORM writes one; ``Job`` has no field with a ``pre_save`` of its own)."""
    fields = tuple(_job_fields().values())
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(
        field.get_placeholder(None, None, connection) if hasattr(field, "get_placeholder") else "%s"
        for field in fields
    )
    return columns, values, tuple((field.attname, field.get_db_prep_save) for field in fields)


def _insert_statement(job: Job, by: str | None, savepoint: bool) -> None:
    """Write the new pending ``job`` and its ``enqueue_job`` (PostgreSQL): one statement with
    the ``job_transition_statement`` parts, then ``job_transition`` (``batched=True``). In
    autocommit — no ``BEGIN``/``COMMIT``, one round trip — when the caller has no transaction
    open and every ``job_transition`` receiver is replaced by a part (:func:`_parts_suffice`);
    else in a transaction of its own, or in the caller's (in a ``savepoint`` if asked)."""
    db = connections[DEFAULT_DB_ALIAS]  # not the proxy: ~40 lookups less per enqueue
    author = author_of(by)
    parts = _statement_parts(job_transition_statement, event=ENQUEUE_JOB, job=job, author=author)
    columns, values, fields = _job_insert()
    quote = db.ops.quote_name
    sql = _INSERT_SQL.format(
        job_table=quote(Job._meta.db_table),
        columns=columns,
        values=values,
        count_table=quote(QueueCount._meta.db_table),
        pending=f"'{PENDING}'",  # constants: fewer parameters
        channel=f"'{NOTIFY_CHANNEL}'",
        parts="".join(f",\n{part.sql}" for part in parts),
        results="".join(f", {part.result[0]}.{part.result[1]}" for part in parts),
        joins="".join(f", {part.result[0]}" for part in parts),
    )
    attrs = job.__dict__
    params: list[Any] = [
        None if (value := attrs[name]) is None else prep(value, db) for name, prep in fields
    ]  # (a field's None is SQL NULL: JSONField's too)
    for part in parts:
        params += part.params
    alone = db.get_autocommit() and not db.in_atomic_block and _parts_suffice(parts)
    atomic = nullcontext() if alone else transaction.atomic(savepoint=savepoint)
    with atomic, db.cursor() as cursor:
        cursor.execute(sql, params)
        (queue, *results) = cursor.fetchone()[:-1]
        job._state.adding = False
        job._state.db = db.alias
        for part, result in zip(parts, results, strict=True):
            part.done(result)
        if isinstance(queue, str):  # Django loads jsonb as text (JSONField parses it)
            queue = json.loads(queue)
        _emit_many([(ENQUEUE_JOB, job, dict(sorted(queue.items())))], by, statement=True)


def _statement_parts(signal: Signal, **kwargs: Any) -> list[StatementPart]:
    """The :class:`StatementPart` s that ``signal``'s receivers return."""
    responses: list[tuple[Any, Any]] = signal.send(sender=Job, **kwargs)
    return [part for _, part in responses if isinstance(part, StatementPart)]


def _parts_suffice(parts: list[StatementPart], signal: Signal = job_transition) -> bool:
    """Does every ``signal`` receiver ignore this statement's transitions (its
    ``dispatch_uid`` named in a part's ``replaces``)? Then none needs to be sent them."""
    replaced = {part.replaces for part in parts if part.replaces is not None}
    # Signal.receivers: ((dispatch_uid or the receiver's id, the sender's id), receiver, …)
    return all(entry[0][0] in replaced for entry in signal.receivers)


def enqueue_many(
    items: Sequence[tuple[str, dict[str, Any], dict[str, Any], str | None]],
    *,
    by: str | None = None,
) -> list[Job | JobError]:
    """Insert pending jobs — ``items`` of (name, settings, args, schedule_id), validated —
    in one transaction (the scheduler fires many schedules at once): one ``enqueue_job``
    event each, as :func:`enqueue` would write it, but one INSERT for the jobs, one counter
    shift and one ``NOTIFY``. Returns per item its ``Job``, or the ``JobExists``
    (``JobInvalid`` for arguments that are not JSON) it met; falls back to one
    :func:`enqueue` per item if a concurrent enqueue takes a (name, arguments) meanwhile."""
    results: list[Job | JobError | None] = [None] * len(items)
    digests: dict[int, str] = {}
    for index, (_name, _settings, args, _schedule) in enumerate(items):
        try:
            digests[index] = args_hash(args)
        except JobInvalid as exc:
            results[index] = exc
    with transaction.atomic():
        taken = set(
            Job.objects.filter(
                journaled=False,
                name__in={items[i][0] for i in digests},
                args_hash__in=set(digests.values()),
            ).values_list("name", "args_hash")
        )
        new: list[tuple[int, Job]] = []
        for index, digest in digests.items():
            name, settings, args, schedule_id = items[index]
            if (name, digest) in taken:
                results[index] = JobExists(name, args)
                continue
            taken.add((name, digest))
            new.append((index, _new_job(name, settings, args, digest, by, schedule_id)))
        try:
            with transaction.atomic():
                Job.objects.bulk_create([job for _, job in new])
        except IntegrityError:  # a concurrent enqueue of one of them: one by one
            for index, _job in new:
                name, settings, args, schedule_id = items[index]
                try:
                    results[index] = enqueue(name, settings, args, by=by, schedule_id=schedule_id)
                except JobError as exc:
                    results[index] = exc
            return [r for r in results if r is not None]
        if new:
            after = _shift_pending(len(new))
            emitted = []
            for position, (index, job) in enumerate(new, start=1):
                now_counts = {**after, PENDING: after[PENDING] - len(new) + position}
                emitted.append((ENQUEUE_JOB, job, now_counts))
                results[index] = job
            _emit_many(emitted, by)
            notify()
    return [r for r in results if r is not None]


def _new_job(name, settings, args, digest, by, schedule_id, parent_id=None, trial=0) -> Job:  # noqa: PLR0917
    return Job(
        name=name,
        args=args,
        args_hash=digest,
        state=PENDING,
        attempts_left=settings["attempts"],
        trial=trial,
        enqueued_by=author_of(by),
        enqueued_hostname=hostname(),
        parent_id=parent_id,
        schedule_id=schedule_id,
        **settings,
    )


def _shift_pending(n: int) -> dict[str, int]:
    """``n`` more pending jobs (the counter row locked); the counts after it."""
    if not QueueCount.objects.filter(state=PENDING).update(n=F("n") + n):
        _create_counters({PENDING: n})
    return {PENDING: n, **counts()}


# --- worker side ------------------------------------------------------------------------------
#: ``max_parallel`` no job reaches: excludes every job of a name from the candidates.
_ALL = 2**31 - 1


def _name_lock(name: str, wait: bool) -> bool:
    """The per-name lock of ``max_parallel`` (PostgreSQL); False if busy and not ``wait``."""
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(hashtext(%s))", [name])
        return wait or bool(cursor.fetchone()[0])


def running_per_name() -> dict[str, int]:
    return dict(
        Job.objects.filter(journaled=False, state=RUNNING)
        .values("name")
        .annotate(n=Count("id"))
        .values_list("name", "n")
    )


def _candidates(worker: str, now: datetime, paused: list[str], full: dict[str, int]):
    query = (
        Job.objects.filter(
            journaled=False,
            state__in=PICKABLE,
            removed_at=None,
            killed_at=None,
            attempts_left__gt=0,
        )
        .filter(Q(query_at__isnull=True) | Q(query_at__lte=now))
        .filter(Q(worker__isnull=True) | Q(worker=worker))
    )
    for project in paused:
        query = query.exclude(name__startswith=project + ".")
    for name, running in full.items():
        query = query.exclude(name=name, max_parallel__lte=running)
    return query.order_by("-force", "-priority", "id")


def pick(
    worker: str,
    *,
    paused: Sequence[str] = (),
    now: datetime | None = None,
    busy: set[str] | None = None,
    run_mode: Callable[[str], str] | None = None,
) -> Job | None:
    """Claim the next runnable job for ``worker`` (``request_start_job``), or None:
    :func:`pick_many` for one job."""
    picked = pick_many(worker, 1, paused=paused, now=now, busy=busy, run_mode=run_mode)
    return picked[0] if picked else None


def pick_many(
    worker: str,
    limit: int,
    *,
    paused: Sequence[str] = (),
    now: datetime | None = None,
    busy: set[str] | None = None,
    run_mode: Callable[[str], str] | None = None,
) -> list[Job]:
    """Claim up to ``limit`` runnable jobs for ``worker`` (``request_start_job`` each), in
    pick order; fewer (or none) if fewer are runnable.

    Deferred jobs past ``inactive_at`` become ``inactive`` (``inactivate_job``) on the way.
    Pick order: force, priority (higher first), FIFO. ``max_parallel`` counts running jobs
    of the same name across all workers; on PostgreSQL candidates are taken with
    ``FOR UPDATE SKIP LOCKED`` (up to ``limit`` at a time) and the count is checked under a
    per-name advisory lock, held to the end of the transaction; on SQLite the transaction
    holds the database's write lock.

    ``busy`` (a set; inside :func:`batch`, which holds locks a waiting pick could deadlock
    with): never wait for a per-name lock — a name another transaction is picking right
    now is skipped and added to ``busy`` (look again later).

    ``run_mode(name)``: how the worker will run the job (``fork``/``pool``, stored in
    ``Job.run_mode``); default ``fork``.

    On PostgreSQL a pick outside :func:`batch` runs in a batch of its own: every claim is
    made holding every counter row, so no other claim or end commits between a name's count
    and its claims — and while fewer jobs run in all than a job's ``max_parallel``, its name
    needs no count at all (:func:`_below_limit`). On SQLite each claim outside a batch is a
    transaction of its own.
    """
    postgres = connection.vendor == "postgresql"
    if postgres and not _IN_BATCH.get():
        with batch([]):
            return pick_many(worker, limit, paused=paused, now=now, busy=busy, run_mode=run_mode)
    fixed_now = now
    # PostgreSQL: names at max_parallel are excluded once one turned out full (the per-name
    # check below is authoritative), which saves the count per name in the common case
    known_full: dict[str, int] = {}
    skipped: set[str] = set()
    picked: list[Job] = []
    batched = postgres and _IN_BATCH.get()
    #: running jobs per name, counted under the name's lock (held to the end of the batch)
    counted: dict[str, int] = {}
    while len(picked) < limit:
        with _step():
            # the clock is read inside the transaction: on SQLite BEGIN waits for the write
            # lock, and a time taken before would date the claim before jobs that finished
            # while we waited (started_at earlier than the slot was free).
            now = fixed_now or utcnow()
            full = known_full if postgres else running_per_name()
            full = {**full, **dict.fromkeys(skipped, _ALL)}
            # several at a time only inside a batch on PostgreSQL (outside, each claim is a
            # transaction of its own; SQLite reads the running counts again for each)
            take = limit - len(picked) if batched else 1
            if postgres:
                pending = _PENDING.get()
                if pending is not None:  # what the batch left unwritten that the read could see
                    pending.write_before_pick()
                candidates = _candidates_locked(worker, now, tuple(paused), full, take)
            else:
                candidates = list(_candidates(worker, now, list(paused), full)[:take])
            if not candidates:
                return picked
            again = False  # look again: a name turned out full or busy, a job inactive
            for job in candidates:
                if job.name in skipped:
                    again = True
                    continue
                running: int | None = 0
                if postgres and _below_limit(job):
                    running = counted.get(job.name)  # no need to count: cannot be full
                elif postgres:
                    known = counted.get(job.name)
                    if known is None:
                        pending = _PENDING.get()
                        if pending is not None and pending.unsaved:
                            pending.write()  # the count sees this batch's claims
                        known = _running_under_lock(job.name, wait=busy is None)
                    if known is None:
                        skipped.add(job.name)
                        busy.add(job.name)  # type: ignore[union-attr]  # not waiting: a set
                        again = True
                        continue
                    running = known
                    if running >= job.max_parallel:
                        # this name's slots are taken: look again without any full name
                        pending = _PENDING.get()
                        if pending is not None and pending.unsaved:
                            pending.write()  # ended jobs no longer counted as running
                        known_full = {**running_per_name(), job.name: running}
                        again = True
                        continue
                elif not Job.objects.filter(
                    pk=job.pk, journaled=False, state__in=PICKABLE, removed_at=None
                ).exists():  # SQLite: re-check the claim (the row may have changed since read)
                    again = True
                    continue
                if _inactivate_if_due(job, now):
                    again = True
                    continue
                _claim(job, worker, now, run_mode)
                picked.append(job)
                if batched and running is not None:
                    counted[job.name] = running + 1
            if not again and len(candidates) < take:
                return picked  # no more runnable jobs
    return picked


#: PostgreSQL: the compiled candidate query per (worker, paused projects, full names, limit)
#: — building and compiling it took longer than running it; ``now`` is its one varying
#: parameter. At most ``_COMPILED_MAX`` shapes are kept (emptied when full).
_COMPILED: dict[tuple, tuple[str, tuple, int]] = {}
_COMPILED_MAX = 256
#: stands for ``now`` while a candidate query is compiled (found again by identity)
_NOW = datetime(2000, 1, 1, tzinfo=UTC)


def _candidates_locked(
    worker: str, now: datetime, paused: tuple[str, ...], full: dict[str, int], limit: int
) -> list[Job]:
    """:func:`_candidates` ``FOR UPDATE SKIP LOCKED``, at most ``limit`` (PostgreSQL), from a
    compiled statement (prepared by the connection, see ``CORE4_DB_PREPARE``)."""
    key = (worker, paused, tuple(sorted(full.items())), limit)
    compiled = _COMPILED.get(key)
    if compiled is None:
        query = _candidates(worker, _NOW, list(paused), full).select_for_update(skip_locked=True)
        sql, params = query[:limit].query.sql_with_params()
        where = [index for index, param in enumerate(params) if param is _NOW]
        if len(where) != 1:  # not the shape this expects: no shortcut
            return list(_candidates(worker, now, list(paused), full)
                        .select_for_update(skip_locked=True)[:limit])  # fmt: skip
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        compiled = _COMPILED[key] = (sql, tuple(params), where[0])
    sql, frozen, at = compiled
    params = list(frozen)
    params[at] = now
    return _load_jobs(sql, params)


#: :func:`_load_jobs`' plan per statement: the row's values in ``Job``'s field order (index
#: per field, None: not selected), the columns with converters, the extra columns
_PLANS: dict[str, tuple[list[int | None], list[tuple[int, list, Any]], list[tuple[str, int]]]] = {}
#: ``Job``'s field attnames in field order (what :func:`_load_jobs` passes to ``from_db``)
_ATTNAMES = [field.attname for field in Job._meta.concrete_fields]


def _load_jobs(sql: str, params: Sequence[Any]) -> list[Job]:
    """``list(Job.objects.raw(sql, params))`` for the worker's turn, without the set-up
    ``raw()`` does on every call (matching columns to fields, finding converters: ~0.2 ms
    a call, more than reading two rows took) — made once per statement here. Columns
    that are no field of ``Job`` become attributes, as with ``raw()``."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        plan = _PLANS.get(sql)
        if plan is None:
            if len(_PLANS) >= _COMPILED_MAX:
                _PLANS.clear()
            plan = _PLANS[sql] = _plan([column[0] for column in cursor.description])
    order, converters, extras = plan
    jobs = []
    for row in rows:
        values = list(row)
        for index, functions, expression in converters:
            value = values[index]
            for function in functions:
                value = function(value, expression, connection)
            values[index] = value
        job = Job.from_db(
            connection.alias,
            _ATTNAMES,
            [NOT_LOADED if index is None else values[index] for index in order],
        )
        for name, index in extras:
            setattr(job, name, values[index])
        jobs.append(job)
    return jobs


def _plan(columns: list[str]):
    fields = {field.column: field for field in Job._meta.concrete_fields}
    position = {column: index for index, column in enumerate(columns)}
    order = [position.get(field.column) for field in Job._meta.concrete_fields]
    converters = []
    for index, column in enumerate(columns):
        field = fields.get(column)
        if field is None:
            continue
        expression = field.get_col(Job._meta.db_table)
        functions = [*connection.ops.get_db_converters(expression),
                     *expression.get_db_converters(connection)]  # fmt: skip
        if functions:
            converters.append((index, functions, expression))
    extras = [(column, index) for index, column in enumerate(columns) if column not in fields]
    return order, converters, extras


def _below_limit(job: Job) -> bool:
    """Inside :func:`batch` on PostgreSQL: fewer jobs run in all than ``job.max_parallel``,
    so its name cannot be full — no need to lock the name and count. Exact: the batch holds
    the ``running`` counter row, so no other transaction starts or ends a job until it
    commits, and its own claims are in the count."""
    pending = _PENDING.get()
    if pending is None or pending.counters is None or RUNNING not in pending.start:
        return False  # no running counter row locked (after a flush: migrate creates it)
    return pending.counters[RUNNING] < job.max_parallel


def _running_under_lock(name: str, wait: bool) -> int | None:
    """Running jobs of ``name``, counted under its per-name lock (PostgreSQL); None if the
    lock is busy and not ``wait``."""
    if not _name_lock(name, wait):
        return None
    table = connection.ops.quote_name(Job._meta.db_table)
    with connection.cursor() as cursor:  # as Job.objects.filter(…).count(), without its build
        cursor.execute(
            f"SELECT COUNT(*) FROM {table} WHERE NOT journaled AND state = %s AND name = %s",
            [RUNNING, name],
        )
        return int(cursor.fetchone()[0])


def _inactivate_if_due(job: Job, now: datetime) -> bool:
    """A deferred job past ``inactive_at`` becomes ``inactive`` instead of running."""
    if job.state != DEFERRED or job.inactive_at is None or job.inactive_at > now:
        return False
    old = job.state
    job.state = INACTIVE
    job.query_at = None
    shifted = _save(job, old, "state", "query_at")
    _emit(INACTIVATE_JOB, job, None, shifted)
    log.info("done execution with [inactive] - [%s] with [%s]", job.name, job.id)
    return True


def _claim(job: Job, worker: str, now: datetime, run_mode: Callable[[str], str] | None) -> None:
    old = job.state
    job.state = RUNNING
    job.started_at = now
    job.query_at = None
    job.trial += 1
    job.locked_by = worker
    job.locked_hostname = hostname()
    job.heartbeat = now
    job.pid = None
    job.run_mode = run_mode(job.name) if run_mode is not None else "fork"
    shifted = _save(
        job, old, "state", "started_at", "query_at", "trial", "locked_by",
        "locked_hostname", "heartbeat", "pid", "run_mode",
    )  # fmt: skip
    _emit(REQUEST_START_JOB, job, None, shifted)


def start(job_id: str, worker: str, pid: int) -> Job:
    """The job's process runs and loaded the job (``start_job``)."""
    with _step():
        job = _lock_running(job_id, worker)
        now = utcnow()
        job.pid = pid
        fields = ["pid"]
        if job.inactive_at is None:
            job.inactive_at = now + timedelta(seconds=job.defer_max)
            fields.append("inactive_at")
        pending = _PENDING.get()
        if pending is not None:  # written with the job's end if that is in the batch too
            pending.unsaved.setdefault(job.pk, (job, set()))[1].update(fields)
        else:
            _update(job, fields)
        _emit(START_JOB, job, None)
        return job


def progress(job_id: str, worker: str, value: float, message: str) -> bool:
    """Record progress and heartbeat (no event: progress is not a state change)."""
    return bool(
        Job.objects.filter(pk=job_id, state=RUNNING, locked_by=worker, journaled=False).update(
            prog_value=value, prog_message=message[:10_000], heartbeat=utcnow()
        )
    )


def _finish(job: Job, state: str, now: datetime) -> list[str]:
    job.state = state
    job.finished_at = now
    run = (now - job.started_at).total_seconds() if job.started_at else 0.0
    job.runtime = (job.runtime or 0.0) + max(run, 0.0)
    job.locked_by = None
    job.locked_hostname = None
    job.pid = None
    return ["state", "finished_at", "runtime", "locked_by", "locked_hostname", "pid"]


def complete(job_id: str, worker: str, stdout: str = "", result: Any = None) -> Job:
    """``execute`` returned (``complete_job``): the job is journaled as complete, with what
    ``execute`` returned as its ``result`` (checked by the job process: ``jobqueue.results``)."""
    with _step():
        job = _lock_running(job_id, worker)
        now = utcnow()
        fields = _finish(job, COMPLETE, now)
        job.journaled, job.journaled_at = True, now
        job.attempts_left -= 1
        job.prog_value, job.prog_message = 1.0, ""
        job.stdout = stdout
        job.result = result
        shifted = _save(job, RUNNING, *fields, "journaled", "journaled_at", "attempts_left",
                        "prog_value", "prog_message", "stdout", "result")  # fmt: skip
        _emit(COMPLETE_JOB, job, None, shifted)
        notify()
    log.info("done execution with [complete] after [%.0f] sec. - [%s]", job.runtime, job.id)
    return job


def defer(job_id: str, worker: str, message: str = "", stdout: str = "") -> Job:
    """``execute`` deferred (``defer_job``): runs again after ``defer_time``."""
    with _step():
        job = _lock_running(job_id, worker)
        if job.killed_at is not None:
            return _kill(job, None, "JobKilledByWorker", stdout)
        now = utcnow()
        fields = _finish(job, DEFERRED, now)
        job.query_at = now + timedelta(seconds=job.defer_time)
        job.last_error = _error(f"JobDeferred({message!r})", None, now)
        job.stdout = stdout
        shifted = _save(job, RUNNING, *fields, "query_at", "last_error", "stdout")
        _emit(DEFER_JOB, job, None, shifted)
        notify()
    log.info("done execution with [deferred] - [%s]: %s", job.id, message)
    _remove_if_requested(job)
    return job


def retry_at(job: Job, now: datetime) -> datetime:
    """When a job that just failed runs again: ``error_time`` after ``now`` — fixed seconds,
    or the backoff spec's delay for this failure (attempts used, this one counted)."""
    attempt = job.attempts - job.attempts_left
    return now + timedelta(seconds=backoff.delay(job.error_time, attempt))


def fail(job_id: str, worker: str, error: dict, stdout: str = "") -> Job:
    """``execute`` raised (or the job timed out, or its result was refused): ``failed_job``
    (retry after ``error_time``, see :func:`retry_at`) or ``error_job``."""
    with _step():
        job = _lock_running(job_id, worker)
        if job.killed_at is not None:
            return _kill(job, None, "JobKilledByWorker", stdout)
        now = utcnow()
        job.attempts_left -= 1
        state = FAILED if job.attempts_left > 0 else ERROR
        fields = _finish(job, state, now)
        if state == FAILED:
            job.query_at = retry_at(job, now)
        job.last_error = {**error, "timestamp": now.isoformat()}
        job.stdout = stdout
        shifted = _save(job, RUNNING, *fields, "attempts_left", "query_at", "last_error", "stdout")
        _emit(FAILED_JOB if state == FAILED else ERROR_JOB, job, None, shifted)
        notify()
    log.warning(
        "done execution with [%s] - [%s], [%d] attempts to go: %s",
        state, job.id, job.attempts_left, error.get("exception"),
    )  # fmt: skip
    _remove_if_requested(job)
    return job


def failed_start(job_id: str, worker: str, error: dict, stdout: str = "") -> Job:
    """The job's process could not load the job (``failed_start``): state ``error``."""
    with _step():
        job = _lock_running(job_id, worker)
        now = utcnow()
        fields = _finish(job, ERROR, now)
        job.last_error = {**error, "timestamp": now.isoformat()}
        job.stdout = stdout
        shifted = _save(job, RUNNING, *fields, "last_error", "stdout")
        _emit(FAILED_START, job, None, shifted)
        notify()
    _remove_if_requested(job)
    return job


def interrupted(job_id: str, worker: str, reason: str, stdout: str = "") -> Job:
    """The worker stopped while the job ran and ended it (``failed_job``): the job is
    ``failed`` and due again at once, and the attempt does not count (``attempts_left``
    stays) — the job did not fail, its worker went away (a deploy, Ctrl-C, ``coco --stop``).
    A job whose kill was requested meanwhile is killed as asked."""
    with _step():
        job = _lock_running(job_id, worker)
        if job.killed_at is not None:
            return _kill(job, None, "JobKilledByWorker", stdout)
        now = utcnow()
        fields = _finish(job, FAILED, now)
        job.query_at = now
        job.last_error = _error(f"WorkerStopped({reason!r})", None, now)
        job.stdout = stdout
        shifted = _save(job, RUNNING, *fields, "query_at", "last_error", "stdout")
        _emit(FAILED_JOB, job, None, shifted)
        notify()
    log.warning("done execution with [failed] - [%s], retried, attempt not counted: %s",
                job.id, reason)  # fmt: skip
    _remove_if_requested(job)
    return job


def killed(job_id: str, worker: str | None, reason: str = "JobKilledByWorker", stdout=None) -> Job:
    """The job's process was killed or died, or its worker died (``kill_job``).

    ``worker=None`` settles a job whatever worker it ran on (its worker is gone).
    """
    with _step():
        job = _lock(job_id)
        if job.state != RUNNING or (worker is not None and job.locked_by != worker):
            raise JobStateError(f"job [{job_id}] is not running on worker [{worker}]")
        job = _kill(job, None, reason, stdout)
    _remove_if_requested(job)
    return job


def _kill(job: Job, by: str | None, reason: str, stdout: str | None) -> Job:
    now = utcnow()
    fields = _finish(job, KILLED, now)
    job.last_error = _error(reason, None, now)
    if stdout is not None:
        job.stdout = stdout
        fields.append("stdout")
    shifted = _save(job, RUNNING, *fields, "last_error")
    _emit(KILL_JOB, job, by, shifted)
    notify()
    log.error("done execution with [killed] - [%s]: %s", job.id, reason)
    return job


def flag_nonstop(job_id: str) -> Job | None:
    """Running longer than ``wall_time`` (``flag_nonstop``); the job keeps running."""
    with transaction.atomic():
        job = _lock(job_id)
        if job.state != RUNNING or job.wall_at is not None:
            return None
        job.wall_at = utcnow()
        job.save(update_fields=["wall_at"])
        _emit(FLAG_NONSTOP, job, None)
    log.warning("successfully set non-stop job [%s]", job.id)
    return job


def flag_zombie(job_id: str) -> Job | None:
    """No progress for ``zombie_time`` (``flag_zombie``); the job keeps running."""
    with transaction.atomic():
        job = _lock(job_id)
        if job.state != RUNNING or job.zombie_at is not None:
            return None
        job.zombie_at = utcnow()
        job.save(update_fields=["zombie_at"])
        _emit(FLAG_ZOMBIE, job, None)
    log.warning("successfully set zombie job [%s]", job.id)
    return job


# --- requests from users ----------------------------------------------------------------------
def request_kill(job_id: str, by: str | None = None) -> Job:
    """Ask the job's worker to SIGKILL it (``request_kill_job``); running jobs only."""
    with transaction.atomic():
        job = _lock(job_id)
        if job.state != RUNNING:
            raise JobStateError(f"job [{job_id}] is not running (state [{job.state}])")
        if job.killed_at is not None:
            raise JobStateError(f"job [{job_id}] kill requested already")
        job.killed_at = utcnow()
        job.save(update_fields=["killed_at"])
        _emit(REQUEST_KILL_JOB, job, by)
    return job


def request_remove(job_id: str, by: str | None = None) -> Job:
    """Ask to take the job out of the queue (``request_remove_job``), then remove it at once
    if it is not running (``remove_job``); a running job is removed when it stops."""
    with transaction.atomic():
        job = _lock(job_id)
        if job.removed_at is not None:
            raise JobStateError(f"job [{job_id}] remove requested already")
        job.removed_at = utcnow()
        job.save(update_fields=["removed_at"])
        _emit(REQUEST_REMOVE_JOB, job, by)
    if job.state != RUNNING:
        job = remove(job_id, by) or job
    return job


def remove(job_id: str, by: str | None = None) -> Job | None:
    """Journal a job whose removal was requested and that is not running (``remove_job``)."""
    with _step():
        try:
            job = _lock(job_id)
        except JobNotFound:
            return None
        if job.removed_at is None or job.state == RUNNING:
            return None
        old = _counted(job)
        job.journaled, job.journaled_at = True, utcnow()
        shifted = _save(job, old, "journaled", "journaled_at")
        _emit(REMOVE_JOB, job, by, shifted)
    log.warning("successfully journaled and removed job [%s]", job.id)
    return job


def _remove_if_requested(job: Job) -> None:
    if job.removed_at is not None and not job.journaled:
        remove(job.id)


def restart(job_id: str, by: str | None = None) -> Job:
    """Restart a waiting job now (``restart_waiting``, same job) or a stopped job as a new
    job (``enqueue_job`` of the child, then ``restart_stopped`` of the parent)."""
    with transaction.atomic():
        job = _lock(job_id)
        if job.state in WAITING:
            job.query_at = None
            job.save(update_fields=["query_at"])
            _emit(RESTART_WAITING, job, by)
            notify()
            return job
        if job.state not in STOPPED:
            raise JobStateError(f"cannot restart job [{job_id}] in state [{job.state}]")
        old = _counted(job)
        job.journaled, job.journaled_at = True, utcnow()
        _save(job, old, "journaled", "journaled_at")
        from jobqueue.job import SETTINGS

        settings = {key: getattr(job, key) for key in SETTINGS}
        child = _insert(job.name, settings, job.args, job.args_hash, by, job.id, job.trial)
        job.child_id = child.id
        job.save(update_fields=["child_id"])
        _emit(RESTART_STOPPED, job, by)
    return child


def settle(job_id: str, reason: str) -> Job | None:
    """Kill-settle a running job whose worker is gone (``kill_job``); None if it moved on."""
    try:
        return killed(job_id, None, reason)
    except (JobNotFound, JobStateError):
        return None
