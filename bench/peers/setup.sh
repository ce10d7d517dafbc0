#!/usr/bin/env bash
# Creates bench/peers/.venv (git-ignored) with the peer job queues the benchmark compares
# core4site with. Versions pinned; the project's own .venv is not touched.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3.11}"
if [ ! -x "$here/.venv/bin/python" ]; then
    "$python" -m venv "$here/.venv"
fi
"$here/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$here/.venv/bin/python" -c "import huey, celery, procrastinate, rq, django_tasks, django_tasks_db; print('peers venv ready')"
