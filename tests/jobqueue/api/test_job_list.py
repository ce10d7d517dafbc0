"""``GET /job/list``: the registered job classes, masked by ``job://…/r``."""

from __future__ import annotations

import pytest

from tests.jobqueue.api.conftest import data_of

pytestmark = pytest.mark.django_db


def names(api, **params):
    return [item["qual_name"] for item in data_of(api.get("/job/list", params or None))]


def test_lists_registered_classes_with_author_doc_and_settings(api):
    response = api.get("/job/list", {"per_page": 1000})
    body = response.json()
    items = {item["_id"]: item for item in body["data"]}
    dummy = items["jobqueue.jobs.example.DummyJob"]
    assert dummy["author"] == "mra" and dummy["valid"] and dummy["error"] is None
    assert "Sleeps" in dummy["doc"]
    assert dummy["aliases"] == ["core4.queue.helper.job.example.DummyJob"]
    assert dummy["settings"]["attempts"] == 1
    error = items["jobqueue.jobs.example.ErrorJob"]
    assert (error["settings"]["attempts"], error["settings"]["error_time"]) == (3, 3)
    broken = items["tests.jobqueue.api.jobs.NoAuthorJob"]
    assert not broken["valid"] and "missing author" in broken["error"]
    assert broken["settings"] == {}
    assert body["total_count"] == len(items)
    assert list(items) == sorted(items)


def test_masked_by_read_permission(as_user):
    visible = names(as_user("r"), per_page=1000)
    assert visible == ["tests.jobqueue.api.jobs.EchoJob", "tests.jobqueue.api.jobs.SleepJob"]
    assert names(as_user("none")) == []


def test_search_with_wildcards_case_insensitive(api):
    assert names(api, search="dummy") == ["jobqueue.jobs.example.DummyJob"]
    assert names(api, search="*.example.*job", per_page=100) == [
        "jobqueue.jobs.example.DeferJob",
        "jobqueue.jobs.example.DummyJob",
        "jobqueue.jobs.example.ErrorJob",
        "jobqueue.jobs.example.NoopJob",
    ]
    assert names(api, search="[") == []


def test_search_is_bounded(api):
    response = api.get("/job/list", {"search": "x" * 256})
    assert response.status_code == 400
    assert "255" in response.json()["error"]


def test_needs_login(client):
    assert client.get("/core4/api/v1/job/list").status_code == 401
