#!/usr/bin/env bash
# The type check: mypy (with the Django and DRF plugins) over the paths listed in
# pyproject.toml's [tool.mypy] `files`. Uses the active venv, else ./.venv (test.sh and
# scripts/venv.sh install mypy and the stubs there). Arguments go to mypy.
set -euo pipefail
cd "$(dirname "$0")/.."
python=python
if [ -z "${VIRTUAL_ENV:-}" ] && [ -x .venv/bin/python ]; then
  python=.venv/bin/python
fi
exec "$python" -m mypy "$@"
