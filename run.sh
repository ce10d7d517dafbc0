#!/usr/bin/env bash
# Install into ./.venv and run the whole product on the embedded default:
# migrate, admin user, daphne on 127.0.0.1:5001, a worker (Ctrl-C stops all).
# Arguments go to `manage.py up` (e.g. --port 8000 --workers 2).
set -euo pipefail
cd "$(dirname "$0")"
REQUIREMENTS=requirements.txt . scripts/venv.sh
if [ -z "${CORE4_ADMIN_PASSWORD:-}" ]; then
  export CORE4_ADMIN_PASSWORD=hans
  echo "==> CORE4_ADMIN_PASSWORD not set: using the development password 'hans'"
fi
python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0
exec python manage.py up "$@"
