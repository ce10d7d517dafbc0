"""Attacks through ``filter`` (issue 10, items 3–5): each is a clear 4xx/503, never a hang or 500.

Every limit is a setting, and the error names it, so an operator who meets one knows which
to raise. Timing bounds here are generous upper bounds on waiting, never measurements.
"""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from accounts.tokens import issue_token
from events.models import Event
from events.outbox import store
from tests.events.helpers import make_user, standard_user, token_of
from tests.support import API, error_of

pytestmark = pytest.mark.django_db

EVENTS = "/core4/api/v1/event/history"
JOBS = API + "/job"


@pytest.fixture
def plain(db):
    return token_of(standard_user("plain"))


@pytest.fixture
def admin(db):
    return str(issue_token(make_user("boss", ["cop"])))


def get(url, token, **params):
    params = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in params.items()}
    return Client().get(url, params, HTTP_AUTHORIZATION=f"Bearer {token}")


def post(url, token, body: bytes | str):
    return Client().post(
        url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


# --- item 3: regular expressions ----------------------------------------------------------
@pytest.mark.parametrize(
    "flt",
    [
        {"channel": {"$regex": "^(b+)+$"}},
        {"channel": "^(b+)+$"},  # core4: a string with specials is an unanchored regex
        {"channel": {"$regex": "^(b|bb)+$", "$options": "i"}},
    ],
)
def test_catastrophic_backtracking_does_not_hang(plain, flt):
    """Python's ``re`` needs ~2.3 s at 25 characters here, doubling per character."""
    store("message", "b" * 27 + "!", "hi", "x")
    started = time.monotonic()
    response = get(EVENTS, plain, filter=flt)
    assert time.monotonic() - started < 5  # old code: ~2.3 s × 2^3
    assert response.status_code == 200, response.content
    assert response.json()["total_count"] == 0


def test_regex_still_matches(plain):
    store("message", "build-42", "hi", "x")
    store("message", "deploy", "hi", "x")
    found = get(EVENTS, plain, filter={"channel": {"$regex": "^BUILD-\\d+$", "$options": "i"}})
    assert [e["channel"] for e in found.json()["data"]] == ["build-42"]


def test_regex_length_is_limited(plain, settings):
    settings.CORE4_FILTER_MAX_REGEX = 50
    response = get(EVENTS, plain, filter={"channel": {"$regex": "a" * 51}})
    assert response.status_code == 400
    assert "CORE4_FILTER_MAX_REGEX" in error_of(response)
    assert get(EVENTS, plain, filter={"channel": {"$regex": "a" * 50}}).status_code == 200


def test_regex_with_5000_nested_groups_is_a_400(plain, admin):
    pattern = "(" * 5000 + "a" + ")" * 5000
    for url, token, key in ((EVENTS, plain, "channel"), (JOBS, admin, "qual_name")):
        response = get(url, token, filter={key: {"$regex": pattern}})
        assert response.status_code == 400, response.content
        assert "regular expression" in error_of(response) or "CORE4_FILTER" in error_of(response)


def test_regex_nested_within_the_length_limit_is_not_a_500(plain):
    pattern = "(" * 300 + "a" + ")" * 300
    assert get(EVENTS, plain, filter={"channel": {"$regex": pattern}}).status_code in (200, 400)


def test_bad_pattern_is_a_400(plain):
    response = get(EVENTS, plain, filter={"channel": {"$regex": "(a"}})
    assert response.status_code == 400
    assert "regular expression" in error_of(response)


# --- item 5: deep keys ---------------------------------------------------------------------
def test_deep_json_key_is_a_400(admin):
    key = "args" + ".a" * 500
    response = get(JOBS, admin, filter={key: 1})
    assert response.status_code == 400, response.content
    assert "CORE4_FILTER_MAX_DEPTH" in error_of(response)


def test_deep_event_data_key_is_a_400(plain):
    response = get(EVENTS, plain, filter={"data" + ".a" * 500: 1})
    assert response.status_code == 400, response.content


# --- item 4: size, items, nesting, body ----------------------------------------------------
@pytest.mark.parametrize("op", ["$in", "$nin"])
def test_long_lists_are_refused_naming_the_limit(admin, settings, op):
    settings.CORE4_FILTER_MAX_ITEMS = 100
    response = get(JOBS, admin, filter={"priority": {op: list(range(101))}})
    assert response.status_code == 400, response.content
    assert "CORE4_FILTER_MAX_ITEMS" in error_of(response)
    assert get(JOBS, admin, filter={"priority": {op: list(range(100))}}).status_code == 200


def test_long_or_is_refused_naming_the_limit(admin, settings):
    settings.CORE4_FILTER_MAX_ITEMS = 100
    response = get(JOBS, admin, filter={"$or": [{"priority": n} for n in range(101)]})
    assert response.status_code == 400
    assert "CORE4_FILTER_MAX_ITEMS" in error_of(response)


def test_70000_items_are_refused(admin, plain):
    """The reported attack: 15–21 s of CPU in the old code."""
    items = list(range(70_000))
    body = json.dumps({"filter": {"priority": {"$in": items}}})
    response = post(JOBS + "/queue", admin, body)
    assert response.status_code in (400, 413)
    assert "CORE4_" in error_of(response)
    response = post(EVENTS, plain, json.dumps({"filter": {"$or": [{"total": n} for n in items]}}))
    assert response.status_code in (400, 413)
    assert "CORE4_" in error_of(response)


def test_conditions_are_limited(admin, settings):
    """Each condition costs the server work (and the database, per row): a named limit."""
    settings.CORE4_FILTER_MAX_CONDITIONS = 20
    response = get(JOBS, admin, filter={"$or": [{"args.n": n} for n in range(21)]})
    assert response.status_code == 400
    assert "CORE4_FILTER_MAX_CONDITIONS" in error_of(response)
    # a list of plain values is one condition (one IN), however long
    assert get(JOBS, admin, filter={"priority": {"$in": list(range(200))}}).status_code == 200


def test_patterns_are_limited(plain, settings):
    settings.CORE4_FILTER_MAX_PATTERNS = 3
    flt = {"$or": [{"channel": {"$regex": f"^c{n}"}} for n in range(4)]}
    response = get(EVENTS, plain, filter=flt)
    assert response.status_code == 400
    assert "CORE4_FILTER_MAX_PATTERNS" in error_of(response)
    flt = {"channel": {"$in": ["a.", "b.", "c.", "d."]}}  # core4's implicit patterns count too
    assert "CORE4_FILTER_MAX_PATTERNS" in error_of(get(EVENTS, plain, filter=flt))


def test_in_list_mixes_values_patterns_and_null(admin):
    """One IN for the plain values keeps the meaning of the old one-condition-per-item form."""
    from tests.jobqueue.api.conftest import ECHO, enqueue

    a = enqueue(ECHO, args={"n": 1}, priority=1)
    b = enqueue(ECHO, args={"n": 2}, priority=2, worker="w1")
    c = enqueue(ECHO, args={"n": 3}, priority=3)

    def ids(flt):
        response = get(JOBS, admin, filter=flt, sort='[["_id", 1]]')
        assert response.status_code == 200, response.content
        return [job["_id"] for job in response.json()["data"]]

    assert ids({"priority": {"$in": [1, 3]}}) == [a.id, c.id]
    assert ids({"priority": {"$nin": [1, 3]}}) == [b.id]
    assert ids({"worker": {"$in": [None, "w1"]}}) == [a.id, b.id, c.id]
    assert ids({"worker": {"$in": ["w.", "zz"]}}) == [b.id]  # "w." is a pattern
    assert ids({"args.n": {"$in": [2, 3]}}) == [b.id, c.id]
    assert ids({"_id": {"$in": [a.id, c.id]}}) == [a.id, c.id]
    assert ids({"priority": {"$in": []}}) == []


def test_filter_size_is_limited(plain, settings):
    settings.CORE4_FILTER_MAX_BYTES = 1000
    text = json.dumps({"author": "x" * 1000})
    response = get(EVENTS, plain, filter=text)
    assert response.status_code == 400
    assert "CORE4_FILTER_MAX_BYTES" in error_of(response)
    response = post(EVENTS, plain, json.dumps({"filter": {"author": "x" * 1000}}))
    assert response.status_code == 400
    assert "CORE4_FILTER_MAX_BYTES" in error_of(response)


def test_nesting_is_limited(plain, settings):
    settings.CORE4_FILTER_MAX_DEPTH = 8
    doc: dict = {"author": "x"}
    for _ in range(8):
        doc = {"$or": [doc]}
    response = get(EVENTS, plain, filter=doc)
    assert response.status_code == 400
    assert "CORE4_FILTER_MAX_DEPTH" in error_of(response)


def test_request_body_size_is_limited(plain, settings):
    settings.CORE4_MAX_BODY_BYTES = 10_000
    response = post(EVENTS, plain, json.dumps({"filter": {"author": "x"}, "pad": "y" * 10_000}))
    assert response.status_code in (400, 413), response.content
    assert "CORE4_MAX_BODY_BYTES" in error_of(response)


# --- item 3: query run time ----------------------------------------------------------------
def test_slow_query_is_cancelled_with_a_clear_error(plain, settings):
    """A list query running longer than the API's budget: 503 naming the setting."""
    Event.objects.bulk_create(
        [Event(name="message", author="x", channel=f"c{n}") for n in range(30_000)]
    )
    settings.CORE4_API_QUERY_TIMEOUT = 0.001
    response = get(EVENTS, plain, filter={"channel": {"$regex": "^(c|d)+[0-9]*x$"}})
    assert response.status_code == 503, response.content
    assert "CORE4_API_QUERY_TIMEOUT" in error_of(response)
    settings.CORE4_API_QUERY_TIMEOUT = 30
    assert get(EVENTS, plain, filter={"channel": "c1"}).status_code == 200


def test_costly_filters_take_turns(plain, settings):
    """While the process's costly-filter slots are taken, a costly filter waits (then 503);
    a plain listing does not wait."""
    from core4api.limits import COSTLY

    settings.CORE4_API_COSTLY_FILTERS = 1
    settings.CORE4_API_QUERY_TIMEOUT = 0.2
    _, semaphore = COSTLY.current()
    assert semaphore.acquire(timeout=5)
    try:
        response = get(EVENTS, plain, filter={"channel": {"$regex": "^c"}})
        assert response.status_code == 503
        assert "CORE4_API_COSTLY_FILTERS" in error_of(response)
        assert get(EVENTS, plain, filter={"channel": "c1"}).status_code == 200
    finally:
        semaphore.release()
    assert get(EVENTS, plain, filter={"channel": {"$regex": "^c"}}).status_code == 200
