"""The warm-process pool (``jobqueue.pool``): jobs in reused processes, with the same
transitions, events, output and kill as in fork mode; a SIGKILLed pool process or fork
server loses no job and runs none twice. (A SIGKILLed worker: ``test_stop.py``.)"""

from __future__ import annotations

import os
import re
import signal

import pytest

from jobqueue import services, transitions
from jobqueue.models import Job
from jobqueue.worker import Worker

pytestmark = pytest.mark.django_db(transaction=True)

POOL = "tests.jobqueue.jobs.PoolJob"
SLEEP = "tests.jobqueue.jobs.SleepJob"


def pids(job: Job) -> set[int]:
    return {int(pid) for pid in re.findall(r"^pid (\d+)$", job.stdout, re.MULTILINE)}


def journaled(*jobs: Job):
    """All of ``jobs`` ended (complete, error, killed): an ``until`` for the worker."""
    ended = ("complete", "error", "killed")
    return lambda: all(Job.objects.get(pk=job.id).state in ended for job in jobs)


def test_pool_jobs_run_in_reused_processes_like_forked_ones(events, fast):
    jobs = [services.enqueue(POOL, n=i) for i in range(4)]
    failing = services.enqueue(POOL, fail=True, attempts=1)
    forked = services.enqueue(SLEEP, sleep=0)
    worker = Worker("test-worker", 1)
    worker.run(until=journaled(*jobs, failing, forked), timeout=60)
    seen = set()
    for job in jobs:
        job.refresh_from_db()
        assert job.state == "complete" and job.run_mode == "pool" and job.trial == 1
        assert "to stderr" in job.stdout and "from a subprocess" in job.stdout
        assert "start execution" in job.stdout
        seen |= pids(job)
        assert events.of(job.id) == [
            ("enqueue_job", events.of(job.id)[0][1]),
            ("request_start_job", events.of(job.id)[1][1]),
            ("start_job", events.of(job.id)[2][1]),
            ("complete_job", events.of(job.id)[3][1]),
        ]
    assert len(seen) == 1, "one pool process ran every pool job (concurrency 1)"
    failing.refresh_from_db()
    assert failing.state == "error" and "failing on purpose" in str(failing.last_error)
    assert pids(failing) == seen
    forked.refresh_from_db()
    assert forked.run_mode == "fork" and forked.state == "complete"
    assert transitions.counts() == {"error": 1}


def test_worker_pool_option_runs_every_job_in_the_pool(events, fast):
    job = services.enqueue(SLEEP, sleep=0)
    Worker("test-worker", 1, pool=True).run(until=journaled(job), timeout=30)
    job.refresh_from_db()
    assert job.run_mode == "pool" and job.state == "complete"
    assert "sleeping 0" in job.stdout and "from a subprocess" in job.stdout
    assert services.job_detail(job)["run_mode"] == "pool"  # the job document says so


def test_a_job_class_with_an_unknown_run_mode_is_invalid():
    from jobqueue.errors import JobInvalid
    from jobqueue.job import CoreJob, validate_class

    class ThreadJob(CoreJob):
        author = "test"
        run_mode = "thread"

    with pytest.raises(JobInvalid, match="invalid run_mode 'thread'"):
        validate_class(ThreadJob, "x.ThreadJob")


def test_pool_processes_are_recycled_after_max_jobs(fast):
    fast.CORE4_WORKER_POOL_MAX_JOBS = 2
    jobs = [services.enqueue(POOL, n=i) for i in range(5)]
    Worker("test-worker", 1).run(until=journaled(*jobs), timeout=60)
    used: dict[int, int] = {}
    for job in jobs:
        job.refresh_from_db()
        assert job.state == "complete"
        (pid,) = pids(job)
        used[pid] = used.get(pid, 0) + 1
    assert sorted(used.values()) == [1, 2, 2]


def test_pool_processes_are_recycled_above_the_memory_ceiling(fast):
    fast.CORE4_WORKER_POOL_MAX_MEMORY = 1  # MiB: every pool process is above it
    jobs = [services.enqueue(POOL, n=i) for i in range(3)]
    Worker("test-worker", 1).run(until=journaled(*jobs), timeout=60)
    found = set()
    for job in jobs:
        job.refresh_from_db()
        found |= pids(job)
    assert len(found) == 3


def _when_running(job_id: str, action) -> callable:
    """An ``until`` that calls ``action(job)`` once the job runs with a known pid."""
    done = []

    def step():
        job = Job.objects.get(pk=job_id)
        if not done and job.state == "running" and job.pid:
            done.append(job.pid)
            action(job)
        return done

    return step


def test_kill_ends_the_pool_process_and_a_new_one_runs_the_next_job(events, fast):
    victim = services.enqueue(POOL, sleep=60)
    worker = Worker("test-worker", 1)
    killed_pid = []

    def kill(job):
        killed_pid.append(job.pid)
        services.kill(job.id)

    started = _when_running(victim.id, kill)
    worker.run(until=lambda: started() and journaled(victim)(), timeout=30)
    victim.refresh_from_db()
    assert victim.state == "killed" and victim.run_mode == "pool" and victim.trial == 1
    assert events.names(victim.id)[-2:] == ["request_kill_job", "kill_job"]
    later = services.enqueue(POOL, n=2)
    worker = Worker("test-worker", 1)
    worker.run(until=journaled(later), timeout=30)
    later.refresh_from_db()
    assert later.state == "complete" and pids(later) != set(killed_pid)


def test_sigkilled_pool_process_loses_no_job_and_runs_none_twice(events, fast):
    victim = services.enqueue(POOL, sleep=60)
    after = services.enqueue(POOL, n=2)
    worker = Worker("test-worker", 1)
    started = _when_running(victim.id, lambda job: os.kill(job.pid, signal.SIGKILL))
    worker.run(until=lambda: started() and journaled(victim, after)(), timeout=30)
    victim.refresh_from_db()
    assert victim.state == "killed" and victim.trial == 1
    assert "signal 9" in str(victim.last_error)
    assert events.names(victim.id).count("request_start_job") == 1
    after.refresh_from_db()
    assert after.state == "complete" and after.trial == 1
    assert events.names(after.id).count("request_start_job") == 1


def test_sigkilled_fork_server_loses_no_pool_job(events, fast):
    """The pool processes are the fork server's children: SIGKILL it while a pool job runs.
    The job is settled once (its process lives on and reports, or is lost: killed); a new
    server and pool process run the next job."""
    victim = services.enqueue(POOL, sleep=1)
    worker = Worker("test-worker", 1)
    servers = []

    def kill_server(job):
        servers.append(worker.processes.forkserver.pid)
        os.kill(servers[0], signal.SIGKILL)
        services.enqueue(POOL, n=2)

    started = _when_running(victim.id, kill_server)

    def until():
        later = Job.objects.filter(args__n=2).first()
        return started() and journaled(victim)() and later is not None and journaled(later)()

    worker.run(until=until, timeout=30)
    victim.refresh_from_db()
    assert victim.state in ("complete", "killed") and victim.trial == 1
    assert events.names(victim.id).count("request_start_job") == 1
    later = Job.objects.get(args__n=2)
    assert later.state == "complete" and later.trial == 1
    assert worker.processes.forkserver.pid != servers[0]


def _settled_per_turn(worker: Worker) -> list[set[str]]:
    """The job ids each of ``worker``'s turns recorded the end of."""
    turns: list[set[str]] = []
    record = worker.record

    def recording(*args, **kwargs):
        ended = {slot.job_id for slot in worker.processes.unsettled}
        if ended:
            turns.append(ended)
        return record(*args, **kwargs)

    worker.record = recording  # type: ignore[method-assign]
    return turns


def test_jobs_launched_together_are_recorded_in_one_turn(fast):
    """After a job ended the worker waits (up to ``CORE4_WORKER_GATHER``) for the jobs
    launched with it, and records their ends in one transaction."""
    fast.CORE4_WORKER_GATHER = 10.0  # far longer than the jobs: only their ends end the wait
    jobs = [services.enqueue(SLEEP, sleep=0, n=i) for i in range(2)]
    worker = Worker("test-worker", 2, pool=True)
    turns = _settled_per_turn(worker)
    worker.run(until=journaled(*jobs), timeout=60)
    assert turns == [{job.id for job in jobs}]


def test_the_gather_waits_no_longer_than_its_window(fast):
    fast.CORE4_WORKER_GATHER = 0.05
    quick = services.enqueue(SLEEP, sleep=0, n=1)
    slow = services.enqueue(SLEEP, sleep=3, n=2)
    worker = Worker("test-worker", 2, pool=True)
    turns = _settled_per_turn(worker)
    worker.run(until=journaled(quick, slow), timeout=60)
    assert turns == [{quick.id}, {slow.id}]  # the quick one's end did not wait for the slow
