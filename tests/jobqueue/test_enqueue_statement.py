"""PostgreSQL: an enqueue is one statement — the job row, the ``pending`` counter, the
``enqueue_job`` event (the events app's ``job_transition_statement`` part) and the NOTIFY —
and writes what the ordinary path writes."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction
from django.db.models import DateTimeField, Field
from django.test.utils import CaptureQueriesContext

from events.models import Event
from events.outbox import TRANSITION_UID, store
from jobqueue import services, transitions
from jobqueue.errors import JobExists
from jobqueue.models import Job, QueueCount
from jobqueue.signals import StatementPart, job_transition
from tests.events.helpers import commit_order_race

pytestmark = pytest.mark.django_db(transaction=True)

NOOP = "jobqueue.jobs.example.NoopJob"


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement enqueue is PostgreSQL's (SQLite writes it step by step)")


def _fields(job: Job) -> dict:
    return {f.attname: getattr(job, f.attname) for f in Job._meta.local_concrete_fields}


def test_one_statement_writes_the_job_the_counter_and_the_event():
    with CaptureQueriesContext(connection) as queries:
        job = services.enqueue(
            NOOP, priority=3, attempts=2, error_time={"base": 2, "factor": 3}, a={"b": [1]}
        )
    sqls = [q["sql"].strip() for q in queries]
    # no transaction open, only the events app's receivers: autocommit, no BEGIN/COMMIT
    assert len(sqls) == 1 and sqls[0].startswith("WITH job AS (INSERT"), sqls
    stored = Job.objects.get(pk=job.pk)
    assert _fields(stored) == _fields(job)  # every column as the returned Job has it
    assert stored.error_time["factor"] == 3
    assert (stored.args, stored.priority, stored.error_time) == (
        {"a": {"b": [1]}},
        3,
        job.error_time,
    )
    assert QueueCount.objects.get(state="pending").n == 1
    event = Event.objects.get()
    assert (event.name, event.channel, event.author) == (
        "enqueue_job", "queue", transitions.os_user(),
    )  # fmt: skip
    assert event.data == {"_id": job.pk, "queue": {"pending": 1}}
    assert event.total == 1


def test_no_job_field_computes_its_value_at_save():
    """The statement reads each column's value off the instance (no ``pre_save``), and the
    compiled UPDATEs rely on the same: no ``auto_now`` nor a field of its own kind."""
    for field in Job._meta.local_concrete_fields:
        assert not getattr(field, "auto_now", False) and not getattr(field, "auto_now_add", False)
        assert type(field).pre_save in (Field.pre_save, DateTimeField.pre_save), field


def test_the_event_counts_every_state_after_the_change():
    QueueCount.objects.update_or_create(state="failed", defaults={"n": 2})
    QueueCount.objects.update_or_create(state="running", defaults={"n": 0})
    services.enqueue(NOOP, n=1)
    job = services.enqueue(NOOP, n=2, by="mra")
    event = Event.objects.order_by("id").last()
    assert event.author == "mra"
    assert event.data == {"_id": job.pk, "queue": {"failed": 2, "pending": 2}}  # no zeros
    assert event.total == 4


def test_a_missing_counter_row_is_created():
    QueueCount.objects.filter(state="pending").delete()  # as after a flush
    job = services.enqueue(NOOP)
    assert QueueCount.objects.get(state="pending").n == 1
    assert Event.objects.get().data == {"_id": job.pk, "queue": {"pending": 1}}


def test_a_duplicate_writes_nothing():
    services.enqueue(NOOP, x=1)
    with pytest.raises(JobExists):
        services.enqueue(NOOP, x=1)
    assert Job.objects.count() == 1
    assert Event.objects.count() == 1
    assert QueueCount.objects.get(state="pending").n == 1


def test_the_scheduled_job_s_event_names_its_schedule():
    job = services.enqueue_scheduled(NOOP, {"n": 1}, "5f0000000000000000000001")
    event = Event.objects.get()
    assert event.author == services.SCHEDULER
    assert event.data["schedule_id"] == "5f0000000000000000000001"
    assert event.data["_id"] == job.pk


def test_other_receivers_see_the_transition_inside_its_transaction():
    seen: list[tuple] = []

    def receiver(sender, *, event, job, counts, author, **kw):
        exists = Job.objects.filter(pk=job.pk).exists()  # written by the statement already
        seen.append((event, counts, author, connection.in_atomic_block, exists))

    job_transition.connect(receiver, weak=False)
    try:
        services.enqueue(NOOP, by="mra")
    finally:
        job_transition.disconnect(receiver)
    assert seen == [("enqueue_job", {"pending": 1}, "mra", True, True)]


def test_in_the_caller_s_transaction_the_statement_commits_with_it():
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        job = services.enqueue(NOOP, inside=True)
        assert Job.objects.filter(pk=job.pk).exists()  # the transaction goes on
    sqls = [q["sql"].strip() for q in queries]
    assert sqls[0] == "BEGIN" and sqls[-1] == "COMMIT", sqls
    assert sqls[1].startswith("SAVEPOINT") and sqls[2].startswith("WITH job AS (INSERT"), sqls
    assert Job.objects.get(pk=job.pk).state == "pending"
    with pytest.raises(RuntimeError), transaction.atomic():
        services.enqueue(NOOP, rolled_back=True)
        raise RuntimeError("the caller's transaction fails")
    assert not Job.objects.filter(args={"rolled_back": True}).exists()
    assert Event.objects.count() == 1


def test_a_duplicate_leaves_the_caller_s_transaction_usable():
    with transaction.atomic():
        first = services.enqueue(NOOP, twice=True)
        with pytest.raises(JobExists):
            services.enqueue(NOOP, twice=True)
        second = services.enqueue(NOOP, other=True)  # no "current transaction is aborted"
    assert set(Job.objects.values_list("pk", flat=True)) == {first.pk, second.pk}
    assert QueueCount.objects.get(state="pending").n == 2


def test_another_receiver_gets_a_transaction_of_its_own():
    def receiver(sender, **kw):
        pass

    job_transition.connect(receiver, weak=False)
    try:
        with CaptureQueriesContext(connection) as queries:
            services.enqueue(NOOP)
    finally:
        job_transition.disconnect(receiver)
    sqls = [q["sql"].strip() for q in queries]
    assert (len(sqls), sqls[0], sqls[-1]) == (3, "BEGIN", "COMMIT"), sqls


def test_only_replaced_receivers_let_the_statement_run_alone():
    part = StatementPart(sql="", params=[], result=("x", "y"), done=print, replaces=TRANSITION_UID)
    assert transitions._parts_suffice([part])  # the events app's receiver only
    assert not transitions._parts_suffice([])  # nobody wrote the event: it needs the signal
    job_transition.connect(print, sender=Job, weak=False, dispatch_uid="someone.else")
    try:
        assert not transitions._parts_suffice([part])
    finally:
        job_transition.disconnect(sender=Job, dispatch_uid="someone.else")
    assert transitions._parts_suffice([part])


def test_a_failing_receiver_undoes_the_statement():
    def receiver(sender, **kw):
        raise RuntimeError("receiver failed")

    job_transition.connect(receiver, weak=False)
    try:
        with pytest.raises(RuntimeError):
            services.enqueue(NOOP)
    finally:
        job_transition.disconnect(receiver)
    assert not Job.objects.exists()
    assert not Event.objects.exists()
    assert not QueueCount.objects.filter(state="pending", n__gt=0).exists()


def test_the_statement_s_event_id_follows_commit_order():
    """A transaction that took an event id first and commits late: the statement's event
    gets a later id and, once it committed, every lower id is committed (the commit-order
    lock is taken inside the statement)."""

    def fast() -> int:
        job = services.enqueue(NOOP)
        return Event.objects.get(name="enqueue_job", data___id=job.pk).pk

    seen = commit_order_race(lambda: [store("message", "system", "first").pk], fast)
    assert seen["fast"] > max(seen["slow"])
    assert seen["lower_visible"] == seen["slow"], "a later id committed before an earlier one"


def test_the_statement_takes_its_locks_in_the_transitions_order():
    """Job row, counter row, then the commit-order lock — as every transition: an enqueue
    that waits for the ``pending`` counter row (held here by another transaction, as a
    worker's batch holds it) must not hold the commit-order lock meanwhile, or it deadlocks
    with that transaction's event insert."""
    import psycopg

    QueueCount.objects.update_or_create(state="pending", defaults={"n": 0})
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    holder = psycopg.connect(**params)
    observer = psycopg.connect(**params, autocommit=True)
    table = QueueCount._meta.db_table
    holder.execute(f"SELECT n FROM {table} WHERE state = 'pending' FOR UPDATE").fetchall()
    pid: list[int] = []
    errors: list[BaseException] = []

    def enqueue():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid.append(cursor.fetchone()[0])
            services.enqueue(NOOP, waiting=True)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=enqueue)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        waiting = None
        while time.monotonic() < deadline and not waiting:
            time.sleep(0.02)
            if pid:
                waiting = observer.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", pid
                ).fetchone()
                waiting = waiting if waiting and waiting[0] == "Lock" else None
        assert waiting, "the enqueue did not wait for the counter row"
        advisory = observer.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s AND granted",
            pid,
        ).fetchone()[0]
        assert advisory == 0, "the enqueue holds the commit-order lock before the counter row"
    finally:
        holder.rollback()
        holder.close()
        thread.join(30)
        observer.close()
    assert not errors, errors
    assert Job.objects.filter(args={"waiting": True}).exists()
