"""``jobqueue.states``: the groups are consistent with each other and with the tables."""

from __future__ import annotations

import importlib

from jobqueue import states
from jobqueue.job import DEFAULTS
from jobqueue.models import Job


def test_groups_partition_the_states():
    assert set(states.HIGHSTATE) == set(states.STATES)
    assert list(states.HIGHSTATE.values()) == [
        "waiting", "waiting", "waiting", "running", "stopped", "stopped", "stopped", "complete",
    ]  # fmt: skip
    assert set(states.UNFINISHED) == set(states.STATES) - {states.COMPLETE}
    assert set(states.PICKABLE) <= set(states.UNFINISHED)
    assert not set(states.WAITING) & set(states.STOPPED)
    assert set(states.FINAL) == {states.COMPLETE, *states.STOPPED}
    assert len(set(states.EVENTS)) == len(states.EVENTS)


def test_the_counters_the_first_migration_creates_are_the_unfinished_states():
    initial = importlib.import_module("jobqueue.migrations.0001_initial")
    assert set(initial.COUNTED) == set(states.UNFINISHED)


def test_model_defaults_are_the_job_setting_defaults():
    for key, default in DEFAULTS.items():
        field = Job._meta.get_field(key)
        assert (field.get_default() if field.has_default() else None) == default, key
    assert Job._meta.get_field("attempts_left").default == DEFAULTS["attempts"]
    assert [state for state, _label in Job._meta.get_field("state").choices] == list(states.STATES)
