"""Issue #12 items 5-7: retry backoff (``error_time`` spec), the hard ``timeout`` and stored
results — the pure rules with fixed numbers, then through a real worker loop (in this
process, jobs in forked processes)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from jobqueue import backoff, results, services, transitions
from jobqueue.errors import JobInvalid
from jobqueue.models import Job
from jobqueue.runner import completed
from jobqueue.signals import job_transition

BACKOFF = "tests.jobqueue.jobs.BackoffJob"
RESULT = "tests.jobqueue.jobs.ResultJob"
TIMEOUT = "tests.jobqueue.jobs.TimeoutJob"
SLEEP = "tests.jobqueue.jobs.SleepJob"
SPEC = {"base": 10, "factor": 2, "max": 3600}


# --- backoff: pure ---------------------------------------------------------------------------
def test_a_number_is_a_fixed_delay():
    assert backoff.validate("error_time", 60) == 60
    assert [backoff.delay(60, n) for n in (1, 2, 5)] == [60.0, 60.0, 60.0]


def test_a_spec_grows_with_the_attempt_up_to_max():
    spec = backoff.validate("error_time", SPEC)
    assert spec == {"base": 10, "factor": 2, "max": 3600, "jitter": 0}
    delays = [backoff.delay(spec, n) for n in range(1, 11)]
    assert delays == [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]
    assert backoff.delay(spec, 10_000) == 3600  # no overflow, however many attempts
    assert backoff.delay(spec, 0) == 10  # never below the first step


def test_defaults_of_a_spec():
    spec = backoff.validate("error_time", {"base": 5})
    assert spec == {"base": 5, "factor": 2, "max": 86_400, "jitter": 0}
    assert backoff.delay({"base": 5, "factor": 1, "max": 9, "jitter": 0}, 7) == 5


def test_jitter_spreads_the_delay_with_the_random_source():
    spec = backoff.validate("error_time", {**SPEC, "jitter": 0.1})
    assert backoff.delay(spec, 2, rand=lambda: 0.0) == pytest.approx(18.0)
    assert backoff.delay(spec, 2, rand=lambda: 0.5) == pytest.approx(20.0)
    assert backoff.delay(spec, 2, rand=lambda: 0.75) == pytest.approx(21.0)
    # capped at max after the spread too
    assert backoff.delay(spec, 20, rand=lambda: 0.999) == 3600
    assert backoff.delay(spec, 20, rand=lambda: 0.0) == pytest.approx(3240.0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, r"\[error_time\] > 0 expected"),
        (True, r"\[error_time\] expected int or backoff spec"),
        (1.5, r"\[error_time\] expected int or backoff spec"),
        ("60", r"\[error_time\] expected int or backoff spec"),
        (2**31, r"\[error_time\] out of range"),
        ({}, r"\[error_time.base\] missing"),
        ({"base": 1, "step": 2}, r"unknown backoff key \[step\]"),
        ({"base": 0}, r"\[error_time.base\] expected > 0"),
        ({"base": "1"}, r"\[error_time.base\] expected a number"),
        ({"base": math.nan}, r"\[error_time.base\] expected a number"),
        ({"base": 1, "factor": 0.5}, r"\[error_time.factor\] expected >= 1"),
        ({"base": 1, "factor": 1000}, r"\[error_time.factor\] expected >= 1 and <= 100"),
        ({"base": 1, "jitter": 1.5}, r"\[error_time.jitter\]"),
        ({"base": 1, "jitter": -0.1}, r"\[error_time.jitter\]"),
        ({"base": 100, "max": 10}, r"\[error_time.base\] must not exceed max"),
    ],
)
def test_bad_specs_are_refused_naming_the_field(value, message):
    with pytest.raises(JobInvalid, match=message):
        backoff.validate("error_time", value)


def test_retry_at_counts_the_attempts_used():
    now = transitions.utcnow()
    job = Job(attempts=5, attempts_left=3, error_time=SPEC)  # the second failure
    assert transitions.retry_at(job, now) == now + timedelta(seconds=20)
    job.error_time = 7
    assert transitions.retry_at(job, now) == now + timedelta(seconds=7)


# --- results: pure ---------------------------------------------------------------------------
def test_json_results_pass():
    assert results.check(None) is None
    assert results.check({"a": (1, 2), "b": "ü"}) == {"a": (1, 2), "b": "ü"}
    assert results.check("x" * 10, max_bytes=12) == "x" * 10
    assert results.check("ü" * 6, max_bytes=14) == "ü" * 6  # bytes, not characters
    with pytest.raises(results.ResultError, match="result of 16 bytes"):
        results.check("ü" * 7, max_bytes=14)
    assert results.check(["\\u0000"]) == ["\\u0000"]  # text that looks like a NUL escape


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({1, 2}, "not JSON-serialisable: Object of type set"),
        (math.inf, "not JSON-serialisable: Out of range float"),
        ({(1, 2): 3}, "not JSON-serialisable"),
        ("x" * 20, r"result of 22 bytes exceeds CORE4_RESULT_MAX \(12 bytes\)"),
        ("a\x00b", "NUL characters are not allowed in result"),
        ({"\x00": 1}, "NUL characters are not allowed in result"),
        ("\ud800", "lone surrogate"),
    ],
)
def test_results_that_cannot_be_stored_are_refused(value, message):
    with pytest.raises(results.ResultError, match=message):
        results.check(value, max_bytes=12)


def test_deep_results_are_refused():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(results.ResultError, match="nested too deeply"):
        results.check(deep)


def test_the_done_report_carries_the_result_or_a_failure(settings):
    settings.CORE4_RESULT_MAX = 10
    assert completed([1]) == {"outcome": "complete", "result": [1]}
    assert completed(None) == {"outcome": "complete", "result": None}
    refused = completed("x" * 20)
    assert refused["outcome"] == "fail"
    assert refused["error"]["exception"] == (
        "ResultError('result of 22 bytes exceeds CORE4_RESULT_MAX (10 bytes)')"
    )


# --- settings at enqueue -----------------------------------------------------------------------
@pytest.mark.django_db
def test_spec_and_timeout_are_settings():
    job = services.enqueue(SLEEP, error_time={"base": 2, "jitter": 0.5}, timeout=30)
    job = Job.objects.get(pk=job.id)
    assert job.error_time == {"base": 2, "factor": 2, "max": 86_400, "jitter": 0.5}
    assert job.timeout == 30 and job.args == {}
    plain = Job.objects.get(pk=services.enqueue(SLEEP, sleep=1).id)
    assert (plain.error_time, plain.timeout) == (600, None)
    assert Job.objects.get(pk=services.enqueue(BACKOFF).id).error_time["base"] == 1
    assert Job.objects.get(pk=services.enqueue(TIMEOUT).id).timeout == 1
    detail = services.job_detail(job)
    assert detail["timeout"] == 30 and detail["error_time"]["jitter"] == 0.5
    assert detail["result"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, r"\[timeout\] > 0 expected"),
        ({"timeout": "5"}, r"\[timeout\] expected int"),
        ({"timeout": 2**31}, r"\[timeout\] out of range"),
        ({"error_time": {"base": -1}}, r"\[error_time.base\]"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(JobInvalid, match=message):
        services.enqueue(SLEEP, **kwargs)


# --- through a real worker loop ----------------------------------------------------------------
class Retries:
    """``(event, finished_at, query_at, last_error)`` of every failure, as the transition
    wrote them."""

    def __init__(self):
        self.seen: list[tuple] = []

    def __call__(self, sender, event, job, **kwargs):
        if event in {"failed_job", "error_job"}:
            self.seen.append((event, job.finished_at, job.query_at, job.last_error))


@pytest.fixture
def retries():
    recorder = Retries()
    job_transition.connect(recorder, weak=False)
    yield recorder
    job_transition.disconnect(recorder)


@pytest.mark.django_db(transaction=True)
def test_failed_attempts_wait_as_the_backoff_says(events, run_worker, retries):
    job = services.enqueue(BACKOFF)
    run_worker(lambda: Job.objects.get(pk=job.id).state == "error")
    waits = [(q - f) if q else None for _, f, q, _ in retries.seen]
    assert [e for e, *_ in retries.seen] == ["failed_job", "failed_job", "error_job"]
    assert waits == [timedelta(seconds=1), timedelta(seconds=2), None]
    job.refresh_from_db()
    assert job.attempts_left == 0 and job.trial == 3
    # each retry started no earlier than it was due
    starts = [e for e in events.names(job.id) if e == "start_job"]
    assert len(starts) == 3


@pytest.mark.django_db(transaction=True)
def test_a_job_over_its_timeout_is_killed_and_retried(events, run_worker, retries):
    job = services.enqueue(TIMEOUT, sleep=30, attempts=2)
    run_worker(lambda: Job.objects.get(pk=job.id).state == "error")
    job.refresh_from_db()
    assert job.last_error["exception"] == "timeout after 1 s"
    assert job.attempts_left == 0 and job.trial == 2 and job.result is None
    assert "sleeping 30" in job.stdout
    assert [e for e, *_ in retries.seen] == ["failed_job", "error_job"]
    assert retries.seen[0][3]["exception"] == "timeout after 1 s"
    assert retries.seen[0][2] - retries.seen[0][1] == timedelta(seconds=1)  # error_time
    assert events.names(job.id)[-1] == "error_job"
    assert "kill_job" not in events.names(job.id)


@pytest.mark.django_db(transaction=True)
def test_a_job_within_its_timeout_completes(events, run_worker):
    job = services.enqueue(SLEEP, sleep=0, timeout=30)
    run_worker(lambda: Job.objects.get(pk=job.id).journaled)
    job.refresh_from_db()
    assert job.state == "complete" and job.last_error is None


@pytest.mark.django_db(transaction=True)
def test_the_result_is_stored_at_completion(events, run_worker):
    value = {"rows": [1, 2, 3], "name": "ü", "nested": {"ok": True, "none": None}}
    job = services.enqueue(RESULT, value=value)
    plain = services.enqueue(RESULT)
    run_worker(lambda: Job.objects.filter(pk__in=[job.id, plain.id], journaled=True).count() == 2)
    job.refresh_from_db()
    plain.refresh_from_db()
    assert job.state == "complete" and job.result == value
    assert plain.state == "complete" and plain.result is None
    assert services.job_detail(job)["result"] == value
    assert events.names(job.id)[-1] == "complete_job"


@pytest.mark.django_db(transaction=True)
def test_a_result_too_big_or_not_json_fails_the_job(events, run_worker, settings):
    settings.CORE4_RESULT_MAX = 100
    big = services.enqueue(RESULT, size=200)
    odd = services.enqueue(RESULT, kind="set", attempts=2, error_time=1)
    run_worker(lambda: Job.objects.filter(pk__in=[big.id, odd.id], state="error").count() == 2)
    big.refresh_from_db()
    odd.refresh_from_db()
    assert big.last_error["exception"] == (
        "ResultError('result of 202 bytes exceeds CORE4_RESULT_MAX (100 bytes)')"
    )
    assert "exceeds CORE4_RESULT_MAX" in big.stdout and big.result is None
    assert "not JSON-serialisable" in odd.last_error["exception"]
    assert odd.trial == 2  # a failure: it used its attempts
    assert events.names(odd.id).count("failed_job") == 1
