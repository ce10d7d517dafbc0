"""A worker's turn in one transaction (``transitions.batch``): its transitions' events, the
counter shifts and the ``NOTIFY`` are written together at its end, exactly as if each
transition had written its own — or not at all when the batch fails."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from events.models import Event
from jobqueue import services, transitions
from jobqueue.models import Job, QueueCount
from jobqueue.signals import job_transitions

pytestmark = pytest.mark.django_db(transaction=True)

NOOP = "jobqueue.jobs.example.NoopJob"
WORKER = "batch-worker"


def stored(job_ids: set[str]) -> list[tuple[str, str, dict]]:
    """The stored queue events of ``job_ids``, in id order: (name, job id, counts)."""
    rows = Event.objects.filter(channel="queue").order_by("id")
    return [(e.name, e.data["_id"], e.data["queue"]) for e in rows if e.data.get("_id") in job_ids]


def counter_rows() -> dict[str, int]:
    return dict(QueueCount.objects.filter(n__gt=0).values_list("state", "n"))


def test_a_turn_stores_its_events_in_order_with_exact_counts(events):
    a = services.enqueue(NOOP, n=1)
    b = services.enqueue(NOOP, n=2)
    c = services.enqueue(NOOP, n=3)
    first = transitions.pick(WORKER)
    assert first is not None and first.id == a.id
    events.events.clear()

    with transitions.batch([a.id]):
        transitions.start(a.id, WORKER, os.getpid())
        transitions.complete(a.id, WORKER, "out", {"ok": True})
        second = transitions.pick(WORKER, busy=set())
        third = transitions.pick(WORKER, busy=set())
        assert Event.objects.filter(name="complete_job").count() == 0  # not written yet
    assert second is not None and third is not None
    assert [second.id, third.id] == [b.id, c.id]

    assert stored({a.id, b.id, c.id})[-4:] == [
        ("start_job", a.id, {"running": 1, "pending": 2}),
        ("complete_job", a.id, {"pending": 2}),
        ("request_start_job", b.id, {"pending": 1, "running": 1}),
        ("request_start_job", c.id, {"running": 2}),
    ]
    # receivers saw each transition once, with the job as it was after that transition
    assert [(name, jid) for name, jid, _, _ in events.events] == [
        ("start_job", a.id),
        ("complete_job", a.id),
        ("request_start_job", b.id),
        ("request_start_job", c.id),
    ]
    assert counter_rows() == transitions.recount() == {"running": 2}
    done = Job.objects.get(pk=a.id)
    assert done.state == "complete" and done.inactive_at is not None and done.pid is None


def test_a_start_alone_is_written_at_the_end_of_the_turn():
    job = services.enqueue(NOOP, n=7)
    transitions.pick(WORKER)
    with transitions.batch([job.id]):
        transitions.start(job.id, WORKER, 4242)
        assert Job.objects.get(pk=job.id).pid is None  # not yet
    row = Job.objects.get(pk=job.id)
    assert row.pid == 4242 and row.inactive_at is not None and row.state == "running"
    assert stored({job.id})[-1] == ("start_job", job.id, {"running": 1})


def test_starts_of_several_jobs_are_written_together_at_the_end_of_the_turn():
    """A turn that starts several jobs and ends none of them (on either database: a worker
    at concurrency 3 failed every turn on SQLite with this, and recorded no job's end)."""
    jobs = [services.enqueue(NOOP, n=n) for n in (8, 9, 10)]
    for _ in jobs:
        transitions.pick(WORKER)
    with transitions.batch([job.id for job in jobs]):
        for pid, job in enumerate(jobs, start=4300):
            transitions.start(job.id, WORKER, pid)
    rows = {row.pk: row for row in Job.objects.filter(pk__in=[job.id for job in jobs])}
    assert [rows[job.id].pid for job in jobs] == [4300, 4301, 4302]
    assert all(row.inactive_at is not None and row.state == "running" for row in rows.values())
    assert [name for name, _, _ in stored({job.id for job in jobs})[-3:]] == ["start_job"] * 3


def test_receivers_get_a_copy_of_the_job_as_it_was_then():
    from jobqueue.signals import job_transition

    seen: list[tuple[str, str, bool]] = []

    def receiver(sender, event, job, **kwargs):
        seen.append((event, job.state, job.journaled))

    job = services.enqueue(NOOP, n=4)
    transitions.pick(WORKER)
    job_transition.connect(receiver, weak=False)
    try:
        with transitions.batch([job.id]):
            transitions.start(job.id, WORKER, os.getpid())
            transitions.complete(job.id, WORKER)
    finally:
        job_transition.disconnect(receiver)
    assert seen == [("start_job", "running", False), ("complete_job", "complete", True)]


def test_a_failed_turn_writes_nothing():
    job = services.enqueue(NOOP, n=5)
    other = services.enqueue(NOOP, n=6)
    transitions.pick(WORKER)
    before_events = Event.objects.count()
    before_counts = counter_rows()
    with pytest.raises(RuntimeError), transitions.batch([job.id]):
        transitions.start(job.id, WORKER, os.getpid())
        transitions.complete(job.id, WORKER)
        assert transitions.pick(WORKER, busy=set()).id == other.id
        raise RuntimeError("the turn fails after its transitions")
    assert Event.objects.count() == before_events
    assert counter_rows() == before_counts == {"pending": 1, "running": 1}
    assert Job.objects.get(pk=job.id).state == "running"
    assert Job.objects.get(pk=other.id).state == "pending"
    # and the next turn does it
    with transitions.batch([job.id]):
        transitions.start(job.id, WORKER, os.getpid())
        transitions.complete(job.id, WORKER)
    assert counter_rows() == transitions.recount() == {"pending": 1}


def test_one_notify_and_one_event_insert_per_turn():
    jobs = [services.enqueue(NOOP, n=10 + i) for i in range(3)]
    for _ in jobs:
        transitions.pick(WORKER)
    ids = [job.id for job in jobs]
    with CaptureQueriesContext(connection) as queries, transitions.batch(ids):
        for job_id in ids:
            transitions.start(job_id, WORKER, os.getpid())
            transitions.complete(job_id, WORKER)
    statements = [" ".join(q["sql"].split()).upper() for q in queries.captured_queries]
    event_table = connection.ops.quote_name(Event._meta.db_table).upper()
    inserts = [s for s in statements if f"INSERT INTO {event_table}" in s]
    assert len(inserts) == 1, inserts
    assert sum(s.count(f"INSERT INTO {event_table}") for s in statements) == 1
    notifies = sum(s.startswith("NOTIFY") or "PG_NOTIFY(" in s for s in statements)
    assert notifies == (1 if connection.vendor == "postgresql" else 0)
    if connection.vendor == "postgresql":  # with the job writes and the counters: one statement
        assert "SHIFTED AS (UPDATE" in inserts[0] and "PG_NOTIFY(" in inserts[0]
        assert "PG_ADVISORY_XACT_LOCK(" in inserts[0]  # the commit-order lock
    assert [name for name, _, _ in stored(set(ids))][-6:] == ["start_job", "complete_job"] * 3
    assert transitions.recount() == counter_rows() == {}


def test_a_turns_events_go_to_every_receiver_of_many_transitions():
    """Another ``job_transitions`` receiver than the events app's: the turn's events are
    not written by the turn's last statement then, but sent; stored once, in order."""
    jobs = [services.enqueue(NOOP, n=60 + i) for i in range(2)]
    for _ in jobs:
        transitions.pick(WORKER)
    ids = [job.id for job in jobs]
    seen: list[list[str]] = []

    def receiver(sender, *, items, **kwargs):
        seen.append([event for event, _, _ in items])

    job_transitions.connect(receiver, dispatch_uid="test.job_transitions")
    try:
        with transitions.batch(ids):
            for job_id in ids:
                transitions.start(job_id, WORKER, os.getpid())
                transitions.complete(job_id, WORKER)
    finally:
        job_transitions.disconnect(dispatch_uid="test.job_transitions")
    assert seen == [["start_job", "complete_job"] * 2]
    names = [name for name, _, _ in stored(set(ids))]
    assert names[-4:] == ["start_job", "complete_job"] * 2 and len(names) == 8


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's batch writes")
def test_a_turns_job_writes_go_out_with_its_counters():
    """The job writes left for a turn's end (here: ends, and claims by its pick) and its
    counter shift are one statement, each write checked for its row count: the ended jobs
    were running, so the pick cannot read them and their writes need not go before it."""
    done = [services.enqueue(NOOP, n=20 + i) for i in range(2)]
    for _ in done:
        transitions.pick(WORKER)
    waiting = [services.enqueue(NOOP, n=30 + i) for i in range(2)]
    ids = [job.id for job in done]
    with CaptureQueriesContext(connection) as queries, transitions.batch(ids):
        for job_id in ids:
            transitions.start(job_id, WORKER, os.getpid())
            transitions.complete(job_id, WORKER)
        picked = transitions.pick_many(WORKER, 2, paused=(), busy=set())
    assert [job.id for job in picked] == [job.id for job in waiting]
    statements = [" ".join(q["sql"].split()).upper() for q in queries.captured_queries]
    job_table = connection.ops.quote_name(Job._meta.db_table).upper()
    writes = [s for s in statements if f"UPDATE {job_table}" in s]
    # ends and claims (two sets of fields) with the counters, in one statement
    assert len(writes) == 1, writes
    assert writes[0].count(f"UPDATE {job_table}") == 2, writes
    assert "SHIFTED AS (UPDATE" in writes[0] and "PG_NOTIFY(" in writes[0]
    rows = {job.pk: job for job in Job.objects.filter(pk__in=[*ids, *(j.id for j in waiting)])}
    assert all(rows[job_id].state == "complete" for job_id in ids)
    assert all(rows[job.id].state == "running" for job in waiting)
    assert transitions.recount() == counter_rows() == {"running": 2}


def test_a_pick_reads_again_what_it_changed_but_not_the_ends_before_it():
    """In a turn, the ends' writes wait for its end (no pick reads a running job), but what
    the pick itself changed is written before it reads jobs again: a deferred job past
    ``inactive_at`` becomes inactive once, a claimed job is claimed once."""
    running = services.enqueue(NOOP, n=50)
    late = services.enqueue(NOOP, n=51, priority=9)
    transitions.pick(WORKER)  # late (priority)
    transitions.defer(late.id, WORKER, "later")
    assert transitions.pick(WORKER).id == running.id  # late is not due yet
    past = transitions.utcnow() - timedelta(seconds=5)
    Job.objects.filter(pk=late.id).update(query_at=past, inactive_at=past)  # now it is
    waiting = [services.enqueue(NOOP, n=52 + i) for i in range(2)]
    with transitions.batch([running.id]):
        transitions.complete(running.id, WORKER)
        picked = transitions.pick_many(WORKER, 3, paused=(), busy=set())
    assert sorted(job.id for job in picked) == sorted(job.id for job in waiting)
    names = [name for name, _, _ in stored({late.id, *(job.id for job in waiting)})]
    assert names.count("inactivate_job") == 1 and names.count("request_start_job") == 3
    assert Job.objects.get(pk=late.id).state == "inactive"
    assert transitions.recount() == counter_rows() == {"inactive": 1, "running": 2}


def test_a_turns_write_that_misses_a_row_fails_the_turn(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's batch writes")
    job = services.enqueue(NOOP, n=40)
    other = services.enqueue(NOOP, n=41)
    transitions.pick(WORKER)
    before = stored({job.id, other.id})
    with pytest.raises(DatabaseError, match="written"), transitions.batch([job.id]):
        transitions.start(job.id, WORKER, 4343)
        Job.objects.filter(pk=job.id).delete()  # gone under the turn's feet (a test's doing)
    assert stored({job.id, other.id}) == before  # nothing of the turn was kept


def test_pick_many_in_a_turn_keeps_order_and_max_parallel():
    """Several claims in one turn: pick order; a name's ``max_parallel`` counts the jobs
    claimed in the same turn; a job of that name allowed more still runs."""
    one = [services.enqueue(NOOP, max_parallel=1, priority=5, n=20 + i) for i in range(3)]
    wide = services.enqueue(NOOP, max_parallel=5, priority=1, n=30)
    other = services.enqueue("jobqueue.jobs.example.DummyJob", priority=0, n=31)
    with transitions.batch([]):
        picked = transitions.pick_many(WORKER, 5, busy=set())
    assert [job.id for job in picked] == [one[0].id, wide.id, other.id]
    assert all(job.state == "running" and job.locked_by == WORKER for job in picked)
    assert {Job.objects.get(pk=job.id).state for job in one[1:]} == {"pending"}
    assert counter_rows() == transitions.recount() == {"pending": 2, "running": 3}
    assert [name for name, _, _ in stored({job.id for job in picked})][-3:] == [
        "request_start_job"
    ] * 3


def test_pick_many_takes_what_there_is():
    jobs = [services.enqueue(NOOP, n=40 + i) for i in range(2)]
    with transitions.batch([]):
        picked = transitions.pick_many(WORKER, 8, busy=set())
        assert transitions.pick_many(WORKER, 8, busy=set()) == []
    assert [job.id for job in picked] == [job.id for job in jobs]
    assert [job.trial for job in picked] == [1, 1]


def test_pick_many_skips_a_name_another_transaction_is_picking():
    if connection.vendor != "postgresql":
        pytest.skip("per-name locks are PostgreSQL's (SQLite serialises writers)")
    import threading

    # one job runs: the next one of a name with max_parallel 1 needs its name counted
    services.enqueue("tests.jobqueue.jobs.SleepJob", priority=10, n=49)
    assert transitions.pick(WORKER) is not None
    blocked = services.enqueue("jobqueue.jobs.example.DummyJob", priority=9, max_parallel=1, n=50)
    free = services.enqueue(NOOP, n=51)
    holding, release = threading.Event(), threading.Event()

    def hold():
        from django.db import transaction

        try:
            with transaction.atomic():
                transitions._name_lock(blocked.name, wait=True)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        busy: set[str] = set()
        with transitions.batch([]):
            picked = transitions.pick_many(WORKER, 2, busy=busy)
    finally:
        release.set()
        thread.join(10)
    assert [job.id for job in picked] == [free.id]
    assert busy == {blocked.name}
    assert Job.objects.get(pk=blocked.id).state == "pending"


def test_below_max_parallel_in_all_a_name_is_neither_locked_nor_counted():
    """The batch holds every counter row: with fewer jobs running in all than a job's
    ``max_parallel`` its name cannot be full — no per-name lock, no count."""
    jobs = [services.enqueue(NOOP, n=60 + i, max_parallel=3) for i in range(4)]
    with CaptureQueriesContext(connection) as queries:
        picked = transitions.pick_many(WORKER, 4)
    statements = " ".join(q["sql"] for q in queries.captured_queries).lower()
    # three claims below the limit; the fourth finds 3 running in all: counted (and full)
    assert [job.id for job in picked] == [job.id for job in jobs[:3]]
    if connection.vendor == "postgresql":
        assert statements.count("advisory_xact_lock(hashtext") == 1
        assert statements.count("count(*)") == 1


def test_concurrent_picks_never_exceed_max_parallel():
    """Pickers in threads, each in its own transactions, over one name with max_parallel 2
    (and jobs of another name, so that the count is skipped while few run in all)."""
    import threading

    for i in range(8):
        services.enqueue(NOOP, n=70 + i, max_parallel=2, priority=5)
        services.enqueue("jobqueue.jobs.example.DummyJob", n=80 + i, priority=1)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def picker(index: int) -> None:
        try:
            start.wait(10)
            for _ in range(3):
                transitions.pick_many(f"{WORKER}-{index}", 2)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=picker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    running = Job.objects.filter(state="running", journaled=False)
    assert running.filter(name=NOOP).count() == 2
    assert counter_rows() == transitions.recount()


def test_the_pick_walks_its_index_with_stale_statistics():
    """After a bulk load, before ANALYZE, the planner still walks ``queue_job_pick_order`` in
    pick order (with a looser index predicate it sorted every runnable job on each pick)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner")
    from django.db import transaction

    from core4api.ids import object_id, utcnow
    from jobqueue.transitions import _candidates, args_hash

    names = [NOOP, "jobqueue.jobs.example.DummyJob"]
    Job.objects.bulk_create(
        Job(id=object_id(), name=names[i % 2], args={"f": i}, args_hash=args_hash({"f": i}),
            state=("pending", "deferred", "failed")[i % 3])
        for i in range(6000)
    )  # fmt: skip
    with transaction.atomic():
        query = _candidates(WORKER, utcnow(), [], {}).select_for_update(skip_locked=True)[:1]
        sql, params = query.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "queue_job_pick_order" in plan, plan
    assert "Sort" not in plan, plan


def test_prepared_statements_are_planned_per_execution():
    """``CORE4_DB_PREPARE=true``: server-side binding, prepared statements, and custom plans
    (a generic plan made on a small queue must never serve a large one)."""
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL option")
    import subprocess
    import sys

    from django.conf import settings

    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "from jobqueue import transitions\n"
        "for _ in range(3): transitions.pick('prepared-worker')\n"
        "with connection.cursor() as c:\n"
        "    c.execute('SHOW plan_cache_mode'); mode = c.fetchone()[0]\n"
        "print(mode, type(connection.connection.cursor()).__name__, "
        "connection.connection.prepare_threshold)\n"
    )
    db = connection.settings_dict
    login = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    url = f"postgres://{login}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "CORE4_DB_PREPARE": "true",
           "DJANGO_SETTINGS_MODULE": "core4site.settings"}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR,
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["force_custom_plan", "ServerBindingCursor", "2"], out.stdout


def test_a_turn_locks_its_jobs_and_the_counters_in_one_statement():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL: SQLite's writer lock covers both")
    jobs = [services.enqueue(NOOP, n=90 + i) for i in range(2)]
    transitions.pick_many(WORKER, 2)
    ids = [job.id for job in jobs]
    with CaptureQueriesContext(connection) as queries, transitions.batch(ids):
        locked = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
        for job_id in ids:
            transitions.start(job_id, WORKER, os.getpid())
            transitions.complete(job_id, WORKER)
    assert len(locked) == 1 and "queue_queuecount" in locked[0], locked
    assert counter_rows() == transitions.recount() == {}
    assert [name for name, _, _ in stored(set(ids))][-4:] == [
        "start_job", "complete_job", "start_job", "complete_job",
    ]  # fmt: skip


def test_the_turns_loader_reads_jobs_as_raw_does():
    """``transitions._load_jobs`` (the turn's statements, without ``raw()``'s per-call
    set-up) gives the same jobs as ``Job.objects.raw()``: every field converted, unselected
    ones deferred, other columns as attributes."""
    job = services.enqueue(NOOP, n=11)
    transitions.pick(WORKER)
    table = connection.ops.quote_name(Job._meta.db_table)
    fields = [field.attname for field in Job._meta.concrete_fields]
    for columns in ("*, 42 AS extra", "id, state, args, enqueued_at, 42 AS extra"):
        sql = f"SELECT {columns} FROM {table} WHERE id = %s"
        (loaded,) = transitions._load_jobs(sql, [job.id])
        (raw,) = Job.objects.raw(sql, [job.id])
        assert loaded.get_deferred_fields() == raw.get_deferred_fields()
        selected = [name for name in fields if name not in raw.get_deferred_fields()]
        assert {name: loaded.__dict__[name] for name in selected} == {
            name: raw.__dict__[name] for name in selected
        }
        assert loaded.extra == raw.extra == 42  # type: ignore[attr-defined]
        assert loaded.args == {"n": 11} and loaded.state == "running"
        assert not loaded._state.adding and loaded._state.db == raw._state.db
