"""core4's argument, pager and envelope conventions in isolation."""

from datetime import UTC, datetime

import pytest
from django.test import RequestFactory
from rest_framework.request import Request

from core4api.arguments import argument, parse_bool
from core4api.exceptions import BadRequest
from core4api.pagination import Core4Pager


def _request(query="", body=None, content_type="application/json"):
    factory = RequestFactory()
    if body is None:
        return Request(factory.get("/x?" + query))
    return Request(factory.post("/x?" + query, body, content_type=content_type))


@pytest.mark.parametrize("word", ["true", "t", "yes", "y", "on", "1", "TRUE", True, 1])
def test_true_words(word):
    assert parse_bool(word) is True


@pytest.mark.parametrize("word", ["false", "f", "no", "n", "off", "0", "OFF", False, 0])
def test_false_words(word):
    assert parse_bool(word) is False


def test_body_wins_over_query_and_types_convert():
    request = _request("a=1&b=2&flag=yes&when=2019-03-18T17:44:54", '{"b": 3, "l": [1]}')
    assert argument(request, "a", as_type=int) == 1
    assert argument(request, "b") == 3
    assert argument(request, "flag", as_type=bool) is True
    assert argument(request, "l", as_type=list) == [1]
    assert argument(request, "when", as_type=datetime) == datetime(
        2019, 3, 18, 17, 44, 54, tzinfo=UTC
    )
    assert argument(request, "missing", 7) == 7
    with pytest.raises(BadRequest, match="Missing argument missing"):
        argument(request, "missing")
    with pytest.raises(BadRequest, match=r"parameter \[a\] expected as_type \[list\]"):
        argument(request, "a", as_type=list)
    with pytest.raises(BadRequest, match=r"parameter \[l\] expected as_type \[int\]"):
        argument(request, "l", as_type=int)


@pytest.mark.parametrize(
    ("query", "page", "count"),
    [
        ("", 0, 10),
        ("page=5", 5, 10),
        ("page=6", 6, 0),
        ("page=-1", 5, 10),
        ("page=-6", 0, 10),
        ("page=-7", -1, 0),
        ("page=100&per_page=7", 100, 0),
    ],
)
def test_pager_edges_as_core4(query, page, count):
    pager = Core4Pager()
    items = pager.paginate_queryset(list(range(60)), _request(query))
    assert pager.paging["page"] == page and len(items) == count
    assert pager.paging["total_count"] == 60.0
    assert pager.paging["page_count"] == (9 if "per_page=7" in query else 6)


def test_pager_empty_and_invalid():
    pager = Core4Pager()
    assert pager.paginate_queryset([], _request()) == []
    assert pager.paging["page_count"] == 0 and pager.paging["total_count"] == 0.0
    with pytest.raises(BadRequest):
        pager.paginate_queryset([], _request("per_page=0"))
