"""Property-based: any ``filter``/``sort`` document on the job listing is a 200 or a clear 400.

schemathesis sees ``filter`` as a string; this generates the JSON documents themselves —
every listing field and operator with arbitrary JSON values, nested ``$and/$or/$nor`` — for
an administrator and for a user who reads nothing (masked columns).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.tokens import issue_token
from jobqueue.api.queries import JOB_FIELDS, SORT_FIELDS
from tests.jobqueue.api.conftest import ECHO, OTHER, Api, enqueue

FIELDS = sorted(JOB_FIELDS) + ["args.n", "args.a.b", "bogus"]
OPERATORS = ["$ne", "$in", "$nin", "$regex", "$options", "$lt", "$lte", "$gt", "$gte", "$exists"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["2020-01-01T00:00:00", "2020-01-01", "pending", ECHO, "UnauthorizedJob", "("]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=4)
conditions = st.one_of(
    values,
    st.dictionaries(st.sampled_from(OPERATORS), values, min_size=1, max_size=2),
)
documents = st.recursive(
    st.dictionaries(st.sampled_from(FIELDS), conditions, max_size=3),
    lambda inner: st.dictionaries(
        st.sampled_from(["$and", "$or", "$nor"]), st.lists(inner, max_size=2), max_size=1
    ),
    max_leaves=6,
)
sorts = st.one_of(
    st.none(),
    st.sampled_from([*SORT_FIELDS, "bogus"]),
    st.lists(
        st.tuples(st.sampled_from([*SORT_FIELDS, "x"]), st.sampled_from([1, -1, 0])).map(list),
        max_size=3,
    ).map(json.dumps),
)


@pytest.fixture
def apis(client, make_user):
    enqueue(ECHO, args={"n": 1, "a": {"b": "x"}})
    enqueue(OTHER, args={"n": 2}, priority=2)
    admin = Api(client, str(issue_token(make_user("fuzzer", ["cop"]))))
    blind = Api(
        client,
        str(issue_token(make_user("blind", ["api://core4.api.v1.request.job.JobRequest"]))),
    )
    return admin, blind


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=documents, sort=sorts, as_body=st.booleans())
def test_any_filter_is_200_or_400(apis, document, sort, as_body):
    for api in apis:
        query = {"filter": document} | ({"sort": sort} if sort is not None else {})
        if as_body:
            response = api.post("/job/queue", query)
        else:
            response = api.get("/job", {k: json.dumps(v) if k == "filter" else v
                                        for k, v in query.items()})  # fmt: skip
        assert response.status_code in (200, 400), response.content
        body = response.json()
        assert body["code"] == response.status_code
        if response.status_code == 400:
            assert body["error"] and "data" not in body
        elif api is apis[1]:
            assert all(item["qual_name"] == "UnauthorizedJob" for item in body["data"])
            assert all(item["args"] is None for item in body["data"])
