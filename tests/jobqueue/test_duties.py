"""Leased periodic duties: one worker of the cluster runs each, another takes over."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from jobqueue.duties import Duties, Duty


class Counting(Duty):
    name = "counting"
    every = 0.05
    lease = 0.3

    def __init__(self) -> None:
        self.runs: list[datetime] = []

    def run(self, now: datetime) -> None:
        self.runs.append(now)


@pytest.mark.django_db
def test_a_duty_runs_on_its_lease_holder_only_and_moves_when_the_holder_dies():
    mine, theirs = Counting(), Counting()
    first, second = Duties("w-1", [mine]), Duties("w-2", [theirs])
    first.run_due()
    second.run_due()
    assert len(mine.runs) == 1 and theirs.runs == []
    # first dies (renews no more): second takes over within twice the lease
    deadline = time.monotonic() + 2 * theirs.lease
    while not theirs.runs and time.monotonic() < deadline:
        time.sleep(0.01)
        second.run_due()
    assert theirs.runs
    # a stopping worker releases its leases: the other takes over at once
    second.release()
    assert first.run("counting") is True
