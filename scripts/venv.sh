# Sourced by run.sh and test.sh: make ./.venv (Python >= 3.11) and install REQUIREMENTS
# into it when they changed since the last install. Leaves the venv activated.
set -euo pipefail
: "${REQUIREMENTS:?}"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "core4site needs Python >= 3.11 (found: $("$PYTHON" --version 2>&1 || echo none)); set PYTHON=..." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(basename "$REQUIREMENTS")"
want="$(cat requirements*.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> installing $REQUIREMENTS into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet --progress-bar off -r "$REQUIREMENTS"
  echo "$want" > "$stamp"
fi
# shellcheck disable=SC1091
. .venv/bin/activate
