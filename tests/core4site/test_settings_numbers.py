"""A numeric setting that is not a number stops start-up with a message that names the
setting and the value (django-environ's own: ``could not convert string to float: ''``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "CORE4_WORKER_START_WINDOW",
            "abc",
            "CORE4_WORKER_START_WINDOW must be a number, not [abc]",
        ),
        (
            "CORE4_WORKER_CONCURRENCY",
            "eight",
            "CORE4_WORKER_CONCURRENCY must be a whole number, not [eight]",
        ),
        (  # django-environ alone read this as 1.5
            "CORE4_WORKER_START_WINDOW",
            "1.5abc",
            "CORE4_WORKER_START_WINDOW must be a number, not [1.5abc]",
        ),
        (
            "CORE4_WORKER_CONCURRENCY",
            "2.5",
            "CORE4_WORKER_CONCURRENCY must be a whole number, not [2.5]",
        ),
    ],
)
def test_a_numeric_setting_that_is_no_number_is_named(variable, value, message, tmp_path):
    env = {**os.environ, variable: value, "CORE4_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].endswith(message)


@pytest.mark.parametrize("value", ["0.002", ".5", "2e-3", " 1 "])
def test_numbers_as_written_are_read(value):
    from core4site.settings import _Env

    env = _Env()
    env.ENVIRON = {"CORE4_TEST_NUMBER": value}
    assert env.float("CORE4_TEST_NUMBER") == float(value)
    assert env.int("CORE4_TEST_WHOLE", default=3) == 3  # unset: the default
