"""``coco``'s output, word for word: listing columns, help, errors, confirmation, maintenance.

Jobs are moved through their states with ``jobqueue.transitions`` directly (no worker), so
every column is known exactly.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core4api.ids import utcnow
from jobqueue import services, transitions
from jobqueue.management.commands.coco import Command
from jobqueue.models import Job
from tests.support import ROOT

pytestmark = pytest.mark.django_db

SLEEP = "tests.jobqueue.jobs.SleepJob"
W = "w-1"


class Terminal(io.StringIO):
    """A terminal's stdin with the user's answer typed in."""

    def isatty(self):
        return True


def coco(*args, stdin=None):
    """``coco ARGS`` → (stdout, stderr); a CommandError propagates."""
    out, err = io.StringIO(), io.StringIO()
    options = {"stdin": stdin} if stdin is not None else {}
    call_command("coco", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def coco_error(*args, stdin=None) -> str:
    with pytest.raises(CommandError) as caught:
        coco(*args, stdin=stdin)
    return str(caught.value)


def run(job: Job) -> Job:
    """Pick and start ``job`` (the only pickable one) on worker W."""
    picked = transitions.pick(W)
    assert picked is not None and picked.id == job.id
    return transitions.start(job.id, W, 4711)


def rows_of(listing: str) -> dict[str, dict[str, str]]:
    """The listing as {job id: {column: cell}}; cells are cut at the header's columns."""
    lines = listing.splitlines()
    header, rule, body = lines[0], lines[1], lines[2:]
    spans = [match.span() for match in re.finditer(r"-+", rule)]
    names = [header[a:b].strip() for a, b in spans]
    rows = {}
    for line in body:
        cells = [line[a:b].strip() for a, b in spans[:-1]] + [line[spans[-1][0] :].strip()]
        row = dict(zip(names, cells, strict=True))
        rows[row["_id"]] = row
    return rows


# --- help ----------------------------------------------------------------------------------
def test_help_describes_every_option_and_ends_in_words():
    parser = Command().create_parser("manage.py", "coco")
    own = [a for a in parser._actions if a.dest not in {
        "help", "version", "verbosity", "settings", "pythonpath", "traceback", "no_color",
        "force_color", "skip_checks"}]  # fmt: skip
    assert len(own) >= 16
    assert [a.dest for a in own if not a.help] == []
    assert not Command.help.rstrip().endswith("...") and Command.help.rstrip().endswith(".")
    text = parser.format_help()
    assert "--yes" in text and "QUAL_NAME [KEY=VALUE ...]" in text


# --- listing -------------------------------------------------------------------------------
def test_listing_attempt_runtime_and_progress(settings):
    pending = services.enqueue(SLEEP, sleep=1)
    running = services.enqueue(SLEEP, sleep=2)
    deferred = services.enqueue(SLEEP, sleep=3)
    failed = services.enqueue(SLEEP, sleep=4, attempts=3)
    Job.objects.filter(pk=pending.id).update(query_at=utcnow() + timedelta(hours=1))  # waits

    run(running)
    Job.objects.filter(pk=running.id).update(started_at=utcnow() - timedelta(seconds=7))
    transitions.progress(running.id, W, 0.4, "working")

    run(deferred)
    transitions.defer(deferred.id, W, "not yet")
    Job.objects.filter(pk=deferred.id).update(runtime=14.2)
    run(failed)
    transitions.fail(failed.id, W, {"exception": "RuntimeError('x')"})
    Job.objects.filter(pk=failed.id).update(runtime=3725)

    out, err = coco("--listing")
    assert err == ""
    rows = rows_of(out)
    assert list(rows) == [pending.id, running.id, deferred.id, failed.id]
    assert list(rows[pending.id]) == [
        "_id", "state", "flag", "prog", "prio", "attempt", "user", "enqueued", "age",
        "runtime", "worker", "name",
    ]  # fmt: skip

    # attempt: attempts used of those allowed; the running one counts, a deferral uses none
    assert [rows[j.id]["attempt"] for j in (pending, running, deferred, failed)] == [
        "0/1", "1/1", "0/1", "1/3",
    ]  # fmt: skip
    # runtime: one format (H:MM:SS), empty before the first run
    assert rows[pending.id]["runtime"] == ""
    assert re.fullmatch(r"0:00:0[7-9]", rows[running.id]["runtime"]), rows[running.id]
    assert rows[deferred.id]["runtime"] == "0:00:14"
    assert rows[failed.id]["runtime"] == "1:02:05"
    assert re.fullmatch(r"\d+:\d\d:\d\d", rows[pending.id]["age"])
    # progress in percent
    assert rows[running.id]["prog"] == "40%"
    assert rows[running.id]["state"] == "running" and rows[running.id]["worker"] == W
    assert rows[failed.id]["state"] == "failed"

    out, _ = coco("--listing", "deferred")
    assert list(rows_of(out)) == [deferred.id]
    assert coco_error("--listing", "bogus") == "unknown state [bogus]"


def test_listing_attempt_of_a_retry_and_the_dashboard_agrees():
    job = services.enqueue(SLEEP, sleep=1, attempts=3)
    run(job)
    transitions.fail(job.id, W, {"exception": "RuntimeError('x')"})
    Job.objects.filter(pk=job.id).update(query_at=None)
    run(job)
    out, _ = coco("--listing")
    assert rows_of(out)[job.id]["attempt"] == "2/3"  # the second of three attempts runs
    js = (ROOT / "dashboard" / "static" / "dashboard" / "jobs.js").read_text()
    assert 'job.attempts - job.attempts_left + (job.state === "running" ? 1 : 0)' in js


def test_empty_listing_and_info():
    assert coco("--listing") == ("no jobs.\n", "")
    assert coco("--info") == ("no jobs.\n", "")


# --- acting on jobs ------------------------------------------------------------------------
def test_kill_of_a_finished_job_is_one_line():
    job = services.enqueue(SLEEP, sleep=1)
    run(job)
    transitions.complete(job.id, W)
    message = coco_error("--kill", job.id)
    assert message == f"failed to kill [{job.id}]: job [{job.id}] not found (finished as complete)"
    assert "\n" not in message


def test_kill_and_remove_by_id_need_no_confirmation():
    job = services.enqueue(SLEEP, sleep=1)
    other = services.enqueue(SLEEP, sleep=2)
    run(job)
    assert coco("--kill", job.id) == (f"killed [{job.id}]\n", "")
    assert coco("--remove", other.id) == (f"removed [{other.id}]\n", "")
    assert coco_error("--kill", "nope") == "failed to kill [nope]: job [nope] not found"


def test_errors_are_one_line_each():
    running = services.enqueue(SLEEP, sleep=1)
    pending = services.enqueue(SLEEP, sleep=2)
    run(running)
    with pytest.raises(CommandError) as caught:
        out = io.StringIO()
        call_command("coco", "--kill", pending.id, running.id, "nope", stdout=out)
    assert out.getvalue() == f"killed [{running.id}]\n"
    assert str(caught.value).splitlines() == [
        "failed to kill [nope]: job [nope] not found",
        f"failed to kill [{pending.id}]: job [{pending.id}] is not running (state [pending])",
    ]


def _two_running():
    a = services.enqueue(SLEEP, sleep=1)
    b = services.enqueue(SLEEP, sleep=2)
    run(a)
    run(b)
    return a, b


def test_kill_by_name_without_terminal_and_without_yes_is_refused():
    a, b = _two_running()
    message = coco_error("--kill", SLEEP, stdin=io.StringIO(""))
    assert message == f"refusing to kill 2 jobs by name (2 of [{SLEEP}]) without --yes"
    assert Job.objects.filter(killed_at__isnull=False).count() == 0


def test_kill_by_name_with_yes():
    a, b = _two_running()
    out, err = coco("--kill", SLEEP, "--yes", stdin=io.StringIO(""))
    assert (out, err) == (f"killed [{a.id}]\nkilled [{b.id}]\n", "")


def test_kill_by_name_asks_on_a_terminal():
    a, b = _two_running()
    message = coco_error("--kill", SLEEP, stdin=Terminal("n\n"))
    assert message == "nothing to kill: not confirmed"
    assert Job.objects.filter(killed_at__isnull=False).count() == 0

    out, err = coco("--kill", SLEEP, stdin=Terminal("y\n"))
    assert out == (
        f"kill 2 unfinished jobs (2 of [{SLEEP}])? [y/N] killed [{a.id}]\nkilled [{b.id}]\n"
    )
    assert err == ""


def test_remove_and_restart_by_name_ask_too():
    job = services.enqueue(SLEEP, sleep=1)
    assert coco_error("--remove", SLEEP, stdin=io.StringIO("")) == (
        f"refusing to remove 1 job by name (1 of [{SLEEP}]) without --yes"
    )
    assert coco("--remove", SLEEP, "-y") == (f"removed [{job.id}]\n", "")


def test_restart_says_whether_the_id_is_new():
    failed = services.enqueue(SLEEP, sleep=1, attempts=2)
    run(failed)
    transitions.fail(failed.id, W, {"exception": "RuntimeError('x')"})
    assert coco("--restart", failed.id) == (f"restarted [{failed.id}]\n", "")
    Job.objects.filter(pk=failed.id).update(query_at=None)
    run(failed)
    transitions.killed(failed.id, W)
    out, _ = coco("--restart", failed.id)
    child = Job.objects.get(parent_id=failed.id)
    assert out == f"restarted [{failed.id}], new _id [{child.id}]\n"


# --- maintenance ---------------------------------------------------------------------------
def test_pause_resume_and_mode_say_it_in_words():
    assert coco("--mode") == ("global maintenance: off\nproject maintenance: none\n", "")
    assert coco("--pause") == ("entering maintenance\n", "")
    assert coco("--pause") == ("in maintenance already, nothing to do\n", "")
    assert coco("--pause", "tests") == ("entering maintenance on [tests]\n", "")
    assert coco("--pause", "tests") == ("in maintenance on [tests] already, nothing to do\n", "")
    assert coco("--mode") == ("global maintenance: on\nproject maintenance: tests\n", "")
    assert coco("--resume") == ("leaving maintenance\n", "")
    assert coco("--resume") == ("not in maintenance, nothing to do\n", "")
    assert coco("--resume", "tests") == ("leaving maintenance on [tests]\n", "")
    assert coco("--resume", "tests") == ("not in maintenance on [tests], nothing to do\n", "")


def test_info_says_when_the_queue_is_paused():
    services.pause()
    services.pause("tests")
    out, err = coco("--info")
    assert err == ""
    assert out.splitlines() == [
        "no jobs.",
        "the queue is paused: no job starts (coco --resume)",
        "paused projects: tests (coco --resume PROJECT)",
    ]
    services.resume()
    services.enqueue(SLEEP, sleep=1)
    lines = coco("--info")[0].splitlines()
    assert lines[-1] == "paused projects: tests (coco --resume PROJECT)"
    assert "paused:" not in "\n".join(lines[:-1]) and SLEEP in lines[2]
