#!/usr/bin/env bash
# The type check: mypy (with the Django and DRF plugins) over the paths listed in pyproject.toml's
# [tool.mypy] `files` that exist in this checkout (mypy refuses a listed path that is missing).
# Uses the active venv, else ./.venv (test.sh / scripts/venv.sh install mypy and the stubs there).
# Arguments go to mypy.
set -euo pipefail
cd "$(dirname "$0")/.."
python=python
if [ -z "${VIRTUAL_ENV:-}" ] && [ -x .venv/bin/python ]; then
  python=.venv/bin/python
fi
mapfile -t paths < <("$python" - <<'PY'
import os
import tomllib

with open("pyproject.toml", "rb") as fh:
    for path in tomllib.load(fh)["tool"]["mypy"]["files"]:
        if os.path.exists(path):
            print(path)
PY
)
exec "$python" -m mypy "$@" "${paths[@]}"
