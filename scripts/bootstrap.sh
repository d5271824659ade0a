# Shared setup for scripts/demo and scripts/test: a virtualenv in .venv with the project installed.
# Usage: source scripts/bootstrap.sh [extra]   (extra: "dev" for the test tools)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "dailypapers needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "$PYTHON" -m venv "$ROOT/.venv"
fi
VENV="$ROOT/.venv"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
if [ "${1:-}" = "dev" ]; then
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT[dev]"
else
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT"
fi
export PATH="$VENV/bin:$PATH"
