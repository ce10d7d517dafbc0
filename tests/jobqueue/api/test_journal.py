"""``GET|POST /job/journal``: finished jobs — search, state and time filters, sort, paging,
masking — and ``manage.py prune_jobs`` (the retention)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from core4api.ids import isoformat, utcnow
from jobqueue import services
from jobqueue.models import Job
from tests.jobqueue.api.conftest import ECHO, OTHER, SLEEP, data_of, enqueue, finish, kill

pytestmark = pytest.mark.django_db


def ids(response) -> list[str]:
    return [job["_id"] for job in data_of(response)]


def ended(job: Job, days_ago: float) -> Job:
    """Date the job's end back by ``days_ago`` days."""
    at = utcnow() - timedelta(days=days_ago)
    Job.objects.filter(pk=job.pk).update(journaled_at=at, finished_at=at)
    return Job.objects.get(pk=job.pk)


@pytest.fixture
def journal():
    """A complete, a removed, a restarted (killed) job, its unfinished child, a killed job
    still in the queue, a pending job, and a complete job of another family."""
    complete = finish(enqueue(ECHO, args={"lines": 1, "tag": "alpha"}))
    removed = enqueue(ECHO, args={"lines": 2, "tag": "beta"})
    services.remove(removed.id, by="tester")
    restarted = kill(enqueue(SLEEP, args={"seconds": 1}))
    killed = kill(enqueue(SLEEP, args={"seconds": 2}))
    other = finish(enqueue(OTHER, args={"secret": "s3cr3t"}))
    child = services.restart(restarted.id, by="tester")
    pending = enqueue(ECHO, args={"lines": 3})
    return {
        "complete": ended(complete, 3),
        "removed": ended(Job.objects.get(pk=removed.pk), 2),
        "restarted": ended(Job.objects.get(pk=restarted.pk), 1),
        "killed": Job.objects.get(pk=killed.pk),
        "child": child,
        "pending": pending,
        "other": other,
    }


def test_lists_finished_jobs_latest_first(api, journal):
    reply = api.get("/job/journal").json()
    listed = [job["_id"] for job in reply["data"]]
    j = journal
    assert listed == [j["other"].id, j["killed"].id, j["restarted"].id, j["removed"].id,
                      j["complete"].id]  # fmt: skip
    assert reply["total_count"] == 5
    by_id = {job["_id"]: job for job in reply["data"]}
    assert by_id[j["complete"].id]["journal"] is True
    assert by_id[j["complete"].id]["state"] == "complete"
    assert by_id[j["killed"].id]["journal"] is False  # still in the queue, stopped for good
    assert by_id[j["restarted"].id]["enqueued"]["child_id"] == j["child"].id
    assert by_id[j["complete"].id]["ended_at"] == isoformat(j["complete"].journaled_at)
    # /job keeps core4's listing: unfinished only
    queue = ids(api.get("/job", {"per_page": 100}))
    assert set(queue) == {j["child"].id, j["killed"].id, j["pending"].id}


def test_journaled_at_is_set_by_every_way_out_of_the_queue(journal):
    for key in ("complete", "removed", "restarted", "other"):
        assert Job.objects.get(pk=journal[key].pk).journaled_at is not None, key
    assert Job.objects.get(pk=journal["killed"].pk).journaled_at is None


def test_post_lists_as_get(api, journal):
    assert ids(api.post("/job/journal", {"per_page": 2})) == ids(
        api.get("/job/journal", {"per_page": 2})
    )


def test_search_by_id_name_and_arguments(api, journal):
    j = journal
    assert ids(api.get("/job/journal", {"search": j["removed"].id[-8:]})) == [j["removed"].id]
    assert set(ids(api.get("/job/journal", {"search": "sleepjob"}))) == {
        j["killed"].id, j["restarted"].id
    }  # fmt: skip
    assert ids(api.get("/job/journal", {"search": "ALPHA"})) == [j["complete"].id]
    assert ids(api.get("/job/journal", {"search": '"tag": "beta"'})) == [j["removed"].id]
    # combined with a filter
    both = {"search": "EchoJob", "filter": '{"state": "complete"}'}
    assert ids(api.get("/job/journal", both)) == [j["complete"].id]
    # the queue listing searches the same way
    assert ids(api.get("/job", {"search": j["pending"].id})) == [j["pending"].id]
    response = api.get("/job/journal", {"search": "x" * 201})
    assert response.status_code == 400 and "200" in response.json()["error"]


def test_state_and_time_range_filters(api, journal):
    j = journal
    state = {"filter": '{"state": {"$in": ["complete", "killed"]}}', "per_page": 100}
    assert set(ids(api.get("/job/journal", state))) == {
        j["complete"].id, j["restarted"].id, j["killed"].id, j["other"].id
    }  # fmt: skip
    assert ids(api.get("/job/journal", {"filter": '{"journal": false}'})) == [j["killed"].id]
    since = isoformat(utcnow() - timedelta(days=2, hours=12))
    until = isoformat(utcnow() - timedelta(hours=12))
    window = {"filter": f'{{"ended_at": {{"$gte": "{since}", "$lt": "{until}"}}}}'}
    assert ids(api.get("/job/journal", window)) == [j["restarted"].id, j["removed"].id]
    response = api.get("/job/journal", {"filter": '{"ended_at": {"$gte": "yesterday"}}'})
    assert response.status_code == 400


def test_sort_by_column_and_paging(api, journal):
    j = journal
    by_name = ids(api.get("/job/journal", {"sort": '[["qual_name", 1], ["_id", 1]]'}))
    names = [Job.objects.get(pk=i).name for i in by_name]
    assert names == sorted(names)
    oldest = ids(api.get("/job/journal", {"sort": "ended_at", "order": 1}))
    assert oldest[0] == j["complete"].id
    assert api.get("/job/journal", {"sort": "stdout"}).status_code == 400
    first = api.get("/job/journal", {"per_page": 2, "page": 0}).json()
    last = api.get("/job/journal", {"per_page": 2, "page": 2}).json()
    assert (first["page_count"], first["total_count"]) == (3, 5)
    assert len(first["data"]) == 2 and [job["_id"] for job in last["data"]] == [j["complete"].id]


def test_masked_jobs_show_as_unauthorized_and_never_shape_a_reply(as_user, journal):
    r = as_user("r")
    reply = r.get("/job/journal", {"per_page": 100})
    assert b"OtherJob" not in reply.content and b"s3cr3t" not in reply.content
    data = {job["_id"]: job for job in data_of(reply)}
    hidden = data[journal["other"].id]
    assert hidden["qual_name"] == "UnauthorizedJob" and hidden["args"] is None
    # neither search nor filter nor sort on the name or the arguments sees the hidden job
    assert ids(r.get("/job/journal", {"search": "OtherJob"})) == []
    assert ids(r.get("/job/journal", {"search": "s3cr3t"})) == []
    assert (
        ids(r.get("/job/journal", {"filter": '{"qual_name": {"$regex": "^tests.*Other"}}'})) == []
    )
    assert ids(r.get("/job/journal", {"filter": '{"args.secret": "s3cr3t"}'})) == []
    unauthorized = r.get("/job/journal", {"filter": '{"qual_name": "UnauthorizedJob"}'})
    assert ids(unauthorized) == [journal["other"].id]
    none = as_user("none").get("/job/journal", {"per_page": 100})
    assert {job["qual_name"] for job in data_of(none)} == {"UnauthorizedJob"}


def test_needs_login(client):
    assert client.get("/core4/api/v1/job/journal").status_code == 401


# --- retention ------------------------------------------------------------------------------------
def test_prune_deletes_only_journaled_jobs_older_than_the_retention(settings):
    settings.CORE4_JOB_RETENTION_DAYS = 30
    old = [ended(finish(enqueue(ECHO, args={"n": n})), 40) for n in range(25)]
    young = ended(finish(enqueue(ECHO, args={"n": "young"})), 29)
    stopped = kill(enqueue(SLEEP, args={"n": "stopped"}))  # in the queue: never pruned
    Job.objects.filter(pk=stopped.pk).update(finished_at=utcnow() - timedelta(days=90))
    pending = enqueue(ECHO, args={"n": "pending"})
    Job.objects.filter(pk=pending.pk).update(enqueued_at=utcnow() - timedelta(days=90))
    out = StringIO()
    call_command("prune_jobs", "--batch", "10", stdout=out)
    assert not Job.objects.filter(pk__in=[job.pk for job in old]).exists()
    assert set(Job.objects.values_list("pk", flat=True)) == {young.pk, stopped.pk, pending.pk}
    text = out.getvalue()
    assert "deleted 10/25 (40 %)" in text
    assert "deleted 25 finished jobs older than 30 days" in text


def test_prune_days_option_dry_run_and_bad_arguments():
    ended(finish(enqueue(ECHO)), 3)
    out = StringIO()
    call_command("prune_jobs", "--days", "2", "--dry-run", stdout=out)
    assert "1 finished jobs older than 2 days" in out.getvalue()
    assert Job.objects.count() == 1
    call_command("prune_jobs", "--days", "2", stdout=StringIO())
    assert Job.objects.count() == 0
    with pytest.raises(CommandError):
        call_command("prune_jobs", "--days", "-1")
    with pytest.raises(CommandError):
        call_command("prune_jobs", "--batch", "0")
