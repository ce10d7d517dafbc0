#!/usr/bin/env bash
# Install into ./.venv and run the whole test suite. Arguments go to pytest.
# DATABASE_URL / REDIS_URL select PostgreSQL / Redis; unset = the embedded default.
set -euo pipefail
cd "$(dirname "$0")"
REQUIREMENTS=requirements-dev.txt . scripts/venv.sh
exec python -m pytest "$@"
