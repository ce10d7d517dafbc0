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
