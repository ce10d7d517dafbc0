"""Job lifecycles through a real worker loop (in this process, jobs in forked processes),
with the events of every transition, in order, with their counts."""

from __future__ import annotations

import os
import signal

import pytest

from jobqueue import services, transitions
from jobqueue.errors import JobNotFound, JobStateError
from jobqueue.models import Job

pytestmark = pytest.mark.django_db(transaction=True)

SLEEP = "tests.jobqueue.jobs.SleepJob"


def state(job_id: str) -> str:
    return Job.objects.get(pk=job_id).state


def test_success(events, run_worker):
    job = services.enqueue(SLEEP, sleep=0)
    run_worker(lambda: Job.objects.get(pk=job.id).journaled)
    job.refresh_from_db()
    assert job.state == "complete" and job.trial == 1 and job.attempts_left == 0
    assert job.prog == {"value": 1.0, "message": ""} and job.runtime >= 0
    assert "sleeping 0" in job.stdout and "to stderr" in job.stdout
    assert "from a subprocess" in job.stdout and "start execution" in job.stdout
    assert job.locked_by is None and job.started_at <= job.finished_at
    assert events.of(job.id) == [
        ("enqueue_job", {"pending": 1}),
        ("request_start_job", {"running": 1}),
        ("start_job", {"running": 1}),
        ("complete_job", {}),
    ]
    assert transitions.counts() == {}


def test_retry_after_failure_then_success(events, run_worker):
    job = services.enqueue("tests.jobqueue.jobs.FailingJob", success=True)
    run_worker(lambda: Job.objects.get(pk=job.id).journaled)
    job.refresh_from_db()
    assert job.state == "complete" and job.trial == 2
    assert events.of(job.id) == [
        ("enqueue_job", {"pending": 1}),
        ("request_start_job", {"running": 1}),
        ("start_job", {"running": 1}),
        ("failed_job", {"failed": 1}),
        ("request_start_job", {"running": 1}),
        ("start_job", {"running": 1}),
        ("complete_job", {}),
    ]


def test_error_after_attempts_run_out(events, run_worker):
    job = services.enqueue("tests.jobqueue.jobs.FailingJob")
    run_worker(lambda: state(job.id) == "error")
    job.refresh_from_db()
    assert job.attempts_left == 0 and job.trial == 2 and not job.journaled
    assert job.last_error["exception"] == "RuntimeError('expected failure in trial [2]')"
    assert any("RuntimeError" in line for line in job.last_error["traceback"])
    assert "trial [2]" in job.stdout
    assert events.names(job.id)[-4:] == ["failed_job", "request_start_job", "start_job",
                                         "error_job"]  # fmt: skip
    assert events.of(job.id)[-1] == ("error_job", {"error": 1})


def test_defer_then_inactive_after_defer_max(events, run_worker):
    job = services.enqueue("tests.jobqueue.jobs.DeferringJob")
    run_worker(lambda: state(job.id) == "inactive")
    names = events.names(job.id)
    assert names[:4] == ["enqueue_job", "request_start_job", "start_job", "defer_job"]
    assert names.count("defer_job") >= 2 and names[-1] == "inactivate_job"
    assert events.of(job.id)[-1] == ("inactivate_job", {"inactive": 1})
    job.refresh_from_db()
    assert job.last_error["exception"].startswith("JobDeferred(")


def test_failed_start(events, run_worker):
    job = services.enqueue("tests.jobqueue.jobs.BrokenInitJob")
    run_worker(lambda: state(job.id) == "error")
    job.refresh_from_db()
    assert "cannot initialise" in job.last_error["exception"]
    assert events.names(job.id) == ["enqueue_job", "request_start_job", "failed_start"]


def test_process_exit_without_result_is_killed(events, run_worker):
    job = services.enqueue("tests.jobqueue.jobs.ExitJob")
    run_worker(lambda: state(job.id) == "killed")
    job.refresh_from_db()
    assert "exited with code 3" in job.last_error["exception"]
    assert events.names(job.id)[-1] == "kill_job"


def test_kill_running_job(events, run_worker):
    job = services.enqueue(SLEEP, sleep=60)
    with pytest.raises(JobStateError, match="not running"):
        services.kill(job.id)

    def kill_when_running():
        current = Job.objects.get(pk=job.id)
        if current.state == "running" and current.pid and current.killed_at is None:
            services.kill(job.id, by="alice")
        return current.state == "killed"

    run_worker(kill_when_running)
    job.refresh_from_db()
    assert job.last_error["exception"] == "JobKilledByWorker" and job.killed_at
    assert events.of(job.id)[-2:] == [
        ("request_kill_job", {"running": 1}),
        ("kill_job", {"killed": 1}),
    ]
    assert [e[3] for e in events.events if e[0] == "request_kill_job"] == ["alice"]
    with pytest.raises(JobStateError):
        services.kill(job.id)


def test_process_killed_from_outside(events, run_worker):
    job = services.enqueue(SLEEP, sleep=60)
    killed = []

    def kill_process():
        current = Job.objects.get(pk=job.id)
        if current.state == "running" and current.pid and not killed:
            # once: the job process is not the worker's child (the fork server reaps it at
            # once), so its pid is gone — not a zombie — until the worker records the end
            os.kill(current.pid, signal.SIGKILL)
            killed.append(current.pid)
        return current.state == "killed"

    run_worker(kill_process)
    job.refresh_from_db()
    assert "signal 9" in job.last_error["exception"]
    assert events.names(job.id)[-1] == "kill_job"


def test_remove_pending_deferred_and_stopped(events):
    pending = services.enqueue(SLEEP, n=1)
    services.remove(pending.id, by="bob")
    assert events.of(pending.id)[-2:] == [
        ("request_remove_job", {"pending": 1}),
        ("remove_job", {}),
    ]
    assert Job.objects.get(pk=pending.id).journaled
    with pytest.raises(JobNotFound):
        services.remove(pending.id)

    for target in ("deferred", "error"):
        job = services.enqueue(SLEEP, n=target)
        job = transitions.pick("w")
        transitions.start(job.id, "w", 1)
        if target == "deferred":
            transitions.defer(job.id, "w", "later")
        else:
            transitions.fail(job.id, "w", {"exception": "X", "traceback": []})
        assert state(job.id) == target
        services.remove(job.id)
        assert Job.objects.get(pk=job.id).journaled
        assert events.names(job.id)[-2:] == ["request_remove_job", "remove_job"]
    assert transitions.counts() == {}


def test_remove_running_job_after_it_stops(events, run_worker):
    job = services.enqueue("tests.jobqueue.jobs.FailingJob", attempts=1, error_time=60)
    picked = transitions.pick("w")
    services.remove(picked.id)
    assert not Job.objects.get(pk=job.id).journaled  # running: removed when it stops
    transitions.fail(picked.id, "w", {"exception": "X", "traceback": []})
    job.refresh_from_db()
    assert job.journaled and job.state == "error"
    assert events.names(job.id) == ["enqueue_job", "request_start_job", "request_remove_job",
                                    "error_job", "remove_job"]  # fmt: skip

    done = services.enqueue(SLEEP, sleep=0.5)
    run_worker(lambda: _remove_when_running(done.id) and Job.objects.get(pk=done.id).journaled)
    done.refresh_from_db()
    assert done.state == "complete" and done.removed_at is not None


def _remove_when_running(job_id):
    job = Job.objects.get(pk=job_id)
    if job.state == "running" and job.removed_at is None:
        services.remove(job_id)
    return job.removed_at is not None


def test_restart_waiting_keeps_the_id(events, run_worker):
    job = services.enqueue("tests.jobqueue.jobs.FailingJob", error_time=3600, success=True)
    run_worker(lambda: state(job.id) == "failed")
    with pytest.raises(JobStateError, match="cannot restart"):
        services.restart(services.enqueue(SLEEP).id)
    same = services.restart(job.id, by="carol")
    assert same.id == job.id and same.query_at is None
    assert events.of(job.id)[-1] == ("restart_waiting", {"failed": 1, "pending": 1})
    run_worker(lambda: Job.objects.get(pk=job.id).journaled)
    job.refresh_from_db()
    assert job.state == "complete" and job.trial == 2


def test_restart_stopped_makes_a_child(events, run_worker):
    job = services.enqueue("tests.jobqueue.jobs.FailingJob", attempts=1)
    run_worker(lambda: state(job.id) == "error")
    child = services.restart(job.id, by="dave")
    parent = Job.objects.get(pk=job.id)
    assert child.id != job.id and parent.journaled and parent.state == "error"
    assert parent.child_id == child.id and child.parent_id == job.id
    assert child.trial == 1 and child.args == parent.args and child.attempts_left == 1
    assert events.events[-2:] == [
        ("enqueue_job", child.id, {"pending": 1}, "dave"),
        ("restart_stopped", job.id, {"pending": 1}, "dave"),
    ]
    with pytest.raises(JobNotFound):
        services.restart(job.id)
    run_worker(lambda: state(child.id) == "error")
    child.refresh_from_db()
    assert child.trial == 2 and "trial [2]" in child.stdout
    assert child.enqueued["parent_id"] == job.id


def test_nonstop_and_zombie_flags(events, run_worker):
    job = services.enqueue(SLEEP, sleep=2.5, wall_time=1, zombie_time=1)
    run_worker(lambda: Job.objects.get(pk=job.id).journaled)
    job.refresh_from_db()
    assert job.state == "complete" and job.wall_at and job.zombie_at
    names = events.names(job.id)
    assert names.count("flag_nonstop") == 1 and names.count("flag_zombie") == 1
    assert names[-1] == "complete_job"


def test_progress_is_the_heartbeat(events, run_worker):
    job = services.enqueue("tests.jobqueue.jobs.ProgressJob", sleep=2.5, zombie_time=2)
    seen = []

    def watch():
        current = Job.objects.get(pk=job.id)
        if current.prog_value is not None and not current.journaled:
            seen.append(current.prog_value)
        return current.journaled

    run_worker(watch)
    job.refresh_from_db()
    assert job.zombie_at is None and seen and 0 <= min(seen) < 1
    assert "flag_zombie" not in events.names(job.id)


def test_priority_then_fifo():
    low = services.enqueue(SLEEP, n=1)
    high = services.enqueue(SLEEP, n=2, priority=10)
    low2 = services.enqueue(SLEEP, n=3)
    forced = services.enqueue(SLEEP, n=4, priority=-5, force=True)
    order = [transitions.pick("w").id for _ in range(4)]
    assert order == [forced.id, high.id, low.id, low2.id]
    assert transitions.pick("w") is None


def test_pick_honours_query_at_worker_pinning_pause_and_max_parallel():
    pinned = services.enqueue(SLEEP, n=1, worker="other")
    assert transitions.pick("w") is None
    assert transitions.pick("other").id == pinned.id
    a = services.enqueue(SLEEP, n=2, max_parallel=1)
    b = services.enqueue(SLEEP, n=3, max_parallel=1)
    assert transitions.pick("w") is None  # SleepJob running on "other", max_parallel 1
    services.kill(pinned.id)
    transitions.killed(pinned.id, "other")
    assert services.pause("tests") is True and services.pause("tests") is False
    assert transitions.pick("w", paused=["tests"]) is None
    assert services.resume("tests") is True and services.resume("tests") is False
    assert transitions.pick("w").id == a.id
    assert transitions.pick("w") is None
    transitions.complete(a.id, "w")
    assert transitions.pick("w").id == b.id


def test_counts_follow_every_transition(events):
    ids = [services.enqueue(SLEEP, n=i).id for i in range(3)]
    job = transitions.pick("w")
    transitions.start(job.id, "w", 1)
    transitions.defer(job.id, "w")
    assert transitions.counts() == {"deferred": 1, "pending": 2}
    assert events.events[-1][2] == {"deferred": 1, "pending": 2}
    services.remove(ids[1])
    assert transitions.counts() == {"deferred": 1, "pending": 1}
    # the counters equal the jobs whatever happened
    assert transitions.recount() == {"deferred": 1, "pending": 1}


def test_late_reports_of_settled_jobs_are_refused():
    job = services.enqueue(SLEEP)
    transitions.pick("w")
    transitions.settle(job.id, "worker [w] died")
    with pytest.raises(JobStateError):
        transitions.complete(job.id, "w")
    assert state(job.id) == "killed"


def test_jobs_run_forked_from_the_worker_without_fork_server(events, run_worker, settings):
    settings.CORE4_WORKER_FORKSERVER = False
    jobs = [services.enqueue(SLEEP, sleep=0, n=i) for i in range(3)]
    worker = run_worker(lambda: all(Job.objects.get(pk=j.id).journaled for j in jobs))
    assert worker.processes.forkserver is None
    for job in jobs:
        job.refresh_from_db()
        assert job.state == "complete" and "sleeping 0" in job.stdout
        assert events.names(job.id) == [
            "enqueue_job", "request_start_job", "start_job", "complete_job"
        ]  # fmt: skip


def test_a_dead_fork_server_loses_no_job(events, run_worker):
    """SIGKILL the fork server while a job runs: the job is settled, a new server runs the
    next one."""
    running = services.enqueue(SLEEP, sleep=1, n=1)
    servers = []

    def step():
        job = Job.objects.get(pk=running.id)
        if job.state == "running" and job.pid and not servers:
            server = worker_ref[0].processes.forkserver
            servers.append(server.pid)
            os.kill(server.pid, signal.SIGKILL)
            services.enqueue(SLEEP, sleep=0, n=2)
        later = Job.objects.filter(args__n=2).first()
        return job.journaled and later is not None and later.journaled

    from jobqueue.worker import Worker

    worker_ref = [Worker("test-worker", 2)]
    worker_ref[0].run(until=step, timeout=30)
    assert servers, "the job never ran"
    first = Job.objects.get(pk=running.id)
    # its process lived on (its report pipe still worked): complete; or it was lost with
    # the server's report of its end: killed — never left running
    assert first.state in ("complete", "killed")
    later = Job.objects.get(args__n=2)
    assert later.state == "complete"
    assert worker_ref[0].processes.forkserver.pid != servers[0]
