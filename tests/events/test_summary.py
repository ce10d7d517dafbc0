"""Masking and merging of summary rows (pure functions)."""

import copy

from accounts.permissions import access_from
from events.summary import UNAUTHORIZED, access_key, mask
from tests.events.helpers import DUMMY, row

ADMIN = access_from(["cop"])
NOBODY = access_from(["api://core4.api.v1.request.standard.*"])
READER = access_from([f"job://{DUMMY}/r"])
EXECUTOR = access_from(["job://core4.queue.helper.*/x"])


def test_admin_sees_everything_unchanged():
    rows = [row("a.A", "pending", 2, 0.1), row("b.B", "running")]
    assert mask(rows, ADMIN) == rows


def test_unreadable_names_are_masked_and_merged():
    rows = [
        row("a.A", "pending", 2, 0.1),
        row("b.B", "pending", 1, 0.4),
        row(DUMMY, "pending", 3),
        row("a.A", "running", 1),
    ]
    original = copy.deepcopy(rows)
    masked = mask(rows, READER)
    assert rows == original  # the shared rows are never changed
    assert masked == [
        {**row(UNAUTHORIZED, "pending", 3), "progress": (2 * 0.1 + 0.4) / 3},
        row(DUMMY, "pending", 3),
        row(UNAUTHORIZED, "running", 1),
    ]


def test_execute_permission_implies_read():
    assert mask([row(DUMMY, "pending")], EXECUTOR) == [row(DUMMY, "pending")]


def test_flags_keep_rows_apart():
    rows = [row("a.A", "running", 1, zombie=True), row("b.B", "running", 1)]
    masked = mask(rows, NOBODY)
    assert [(r["n"], r["zombie"]) for r in masked] == [(1, False), (1, True)]


def test_single_progress_is_kept_exactly():
    assert mask([row("a.A", "running", 3, 0.1)], NOBODY)[0]["progress"] == 0.1


def test_empty_summary():
    assert mask([], NOBODY) == []


def test_access_key_groups_equal_job_permissions():
    assert access_key(READER) == access_key(access_from([f"job://{DUMMY}/r", "api://x"]))
    assert access_key(READER) != access_key(NOBODY)
    assert access_key(ADMIN) == access_key(access_from(["cop", f"job://{DUMMY}/r"]))
