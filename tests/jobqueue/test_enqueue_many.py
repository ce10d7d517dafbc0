"""Enqueue many jobs in one transaction: ``services.enqueue_many``, ``manage.py enqueue
--count/--file``; the single enqueue's one-statement path (PostgreSQL) stores the same."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from events.models import Event
from jobqueue import services, transitions
from jobqueue.errors import JobInvalid, JobNotFound
from jobqueue.models import Job

pytestmark = pytest.mark.django_db

SLEEP = "tests.jobqueue.jobs.SleepJob"
FAILING = "tests.jobqueue.jobs.FailingJob"


def queue_events(after: int = 0) -> list[Event]:
    return list(Event.objects.filter(id__gt=after, channel="queue").order_by("id"))


def last_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_many_jobs_each_with_its_event_in_the_order_given():
    running = services.enqueue(SLEEP, sleep=99)
    transitions.pick("w1")
    before = last_event_id()
    jobs = services.enqueue_many(
        [
            {"qual_name": SLEEP, "args": {"n": 1}, "priority": 5},
            {"qual_name": FAILING, "n": 2},  # arguments as keywords, as enqueue takes them
            {"qual_name": SLEEP, "args": {"n": 3}},
        ],
        by="alice",
    )
    assert all(job is not None for job in jobs)
    assert [job.args for job in jobs] == [{"n": 1}, {"n": 2}, {"n": 3}]
    stored = {job.id: job for job in Job.objects.filter(pk__in=[job.id for job in jobs])}
    assert stored[jobs[0].id].priority == 5 and stored[jobs[1].id].attempts == 2  # class
    assert {job.enqueued_by for job in stored.values()} == {"alice"}
    assert all(job.state == "pending" and not job.journaled for job in stored.values())
    events = queue_events(before)
    assert [e.name for e in events] == ["enqueue_job"] * 3
    assert [e.data["_id"] for e in events] == [job.id for job in jobs]
    assert [e.data["queue"] for e in events] == [
        {"pending": n, "running": 1} for n in (1, 2, 3)
    ]  # the counts after each job, as if enqueued one by one
    assert [e.total for e in events] == [2, 3, 4] and {e.author for e in events} == {"alice"}
    assert transitions.counts() == {"pending": 3, "running": 1} == transitions.recount()
    assert running.id not in {job.id for job in jobs}


def test_existing_and_repeated_jobs_are_reported_not_enqueued():
    existing = services.enqueue(SLEEP, args={"n": 1})
    before = last_event_id()
    jobs = services.enqueue_many(
        [
            {"qual_name": SLEEP, "args": {"n": 1}},  # exists
            {"qual_name": SLEEP, "args": {"n": 2}},
            {"qual_name": SLEEP, "args": {"n": 2}},  # repeats the one before
            {"qual_name": SLEEP, "n": 3},
        ]
    )
    assert [job is None for job in jobs] == [True, False, True, False]
    assert Job.objects.filter(journaled=False).count() == 3
    assert [e.data["_id"] for e in queue_events(before)] == [jobs[1].id, jobs[3].id]
    assert transitions.counts() == {"pending": 3}
    assert services.enqueue_many([{"qual_name": SLEEP, "args": {"n": 1}}]) == [None]
    assert existing.id == Job.objects.get(args={"n": 1}).id


@pytest.mark.parametrize(
    ("item", "error", "text"),
    [
        ({"qual_name": "no.such.Job"}, JobNotFound, "jobs[1]: job [no.such.Job] not found"),
        ({"qual_name": SLEEP, "priority": "high"}, JobInvalid, "jobs[1]: [priority]"),
        ({"qual_name": SLEEP, "args": [1]}, JobInvalid, "jobs[1]: [args] expected a dict"),
        ({"qual_name": SLEEP, "args": {"x": float("nan")}}, JobInvalid, "jobs[1]: job arg"),
        ({"args": {}}, JobInvalid, "jobs[1]: [qual_name] missing"),
        ("text", JobInvalid, "jobs[1]: expected an object"),
    ],
)
def test_a_bad_job_names_its_index_and_nothing_is_enqueued(item, error, text):
    with pytest.raises(error) as info:
        services.enqueue_many([{"qual_name": SLEEP, "args": {"n": 0}}, item])
    assert str(info.value).startswith(text)
    assert not Job.objects.exists() and not queue_events()


def test_bounded_by_a_named_limit(settings):
    settings.CORE4_ENQUEUE_MANY_MAX = 2
    with pytest.raises(JobInvalid, match=r"CORE4_ENQUEUE_MANY_MAX \(2\)"):
        services.enqueue_many([{"qual_name": SLEEP, "n": n} for n in range(3)])
    assert services.enqueue_many([]) == []
    assert not Job.objects.exists()


def enqueue_command(*args, stdin: str | None = None) -> str:
    out = io.StringIO()
    if stdin is not None:
        import sys

        saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        call_command("enqueue", *args, stdout=out)
    finally:
        if stdin is not None:
            sys.stdin = saved
    return out.getvalue()


def test_cli_count_and_file(tmp_path):
    out = enqueue_command("--count", "3", SLEEP, "sleep=1", "priority=7")
    assert out.split("\n")[2].split() == ["3", "0"]
    jobs = Job.objects.order_by("id")
    assert [job.args for job in jobs] == [{"sleep": 1, "n": n} for n in range(3)]
    assert {job.priority for job in jobs} == {7}
    lines = tmp_path / "jobs.jsonl"
    lines.write_text(
        json.dumps({"qual_name": SLEEP, "args": {"sleep": 1, "n": 0}}) + "\n\n"
        + json.dumps({"qual_name": SLEEP, "args": {"k": 1}, "priority": 2}) + "\n"
    )  # fmt: skip
    out = enqueue_command("--file", str(lines))
    assert out.split("\n")[2].split() == ["1", "1"]
    assert "1" in out.split("\n")[6].split()[:1] and '{"n": 0, "sleep": 1}' in out
    assert Job.objects.get(args={"k": 1}).priority == 2
    out = enqueue_command("--file", "-", stdin=json.dumps({"qual_name": SLEEP, "x": 1}) + "\n")
    assert out.split("\n")[2].split() == ["1", "0"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--file", "-"], "{not json\n", "line 1: not JSON"),
        (["--file", "-"], "[1]\n", "line 1: expected a JSON object"),
        (["--file", "-"], '{"qual_name": "x.Y"}\n{"qual_name": "no.Such"}\n', "line 1: job [x.Y]"),
        (["--file", "/no/such/file"], None, "cannot read [/no/such/file]"),
        (["--count", "-1", SLEEP], None, "--count must be 0 or more"),
        (["--count", "2"], None, "qualified name is required"),
        (["--file", "-", SLEEP], "", "--file takes no job name"),
    ],
)
def test_cli_bad_input(args, stdin, message):
    with pytest.raises(CommandError) as info:
        enqueue_command(*args, stdin=stdin)
    assert message in str(info.value)
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_enqueue_many_takes_its_locks_in_the_transitions_order():
    """Jobs, then the counter row, then the commit-order lock — as every transition: while
    another transaction holds the pending counter, a waiting enqueue must not hold the
    commit-order lock (that transaction may need it next: a deadlock, seen with a worker)."""
    import threading

    import psycopg
    from django.db import connection

    from events.outbox import COMMIT_ORDER_LOCK

    if connection.vendor != "postgresql":
        pytest.skip("row locks and the commit-order lock are PostgreSQL's")
    services.enqueue(SLEEP, n=0)  # the counter row exists
    dsn = connection.get_connection_params()
    dsn = {k: v for k, v in dsn.items() if k in ("dbname", "user", "host", "port", "password")}
    with psycopg.connect(**dsn) as holder, psycopg.connect(**dsn, autocommit=True) as probe:
        holder.execute("SELECT n FROM queue_queuecount WHERE state = 'pending' FOR UPDATE")
        done = threading.Event()

        def enqueue():
            from django.db import connection as own

            try:
                services.enqueue_many([{"qual_name": SLEEP, "n": 1}, {"qual_name": SLEEP, "n": 2}])
            finally:
                own.close()
                done.set()

        thread = threading.Thread(target=enqueue)
        thread.start()
        try:
            waiting = False
            for _ in range(200):  # until the enqueue waits for the counter row
                waiting = probe.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%%UPDATE \"queue_queuecount\"%%'"
                ).fetchone()[0]
                if waiting:
                    break
                done.wait(0.05)
            assert waiting, "the enqueue did not wait for the counter row"
            free = probe.execute("SELECT pg_try_advisory_lock(%s)", [COMMIT_ORDER_LOCK]).fetchone()[
                0
            ]
            assert free, "a waiting enqueue holds the commit-order lock"
            probe.execute("SELECT pg_advisory_unlock(%s)", [COMMIT_ORDER_LOCK])
        finally:
            holder.rollback()
            thread.join(30)
    assert done.is_set()
    assert Job.objects.filter(journaled=False).count() == 3
    assert [e.data["queue"]["pending"] for e in queue_events()] == [1, 2, 3]
