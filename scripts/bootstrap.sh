# Shared setup for scripts/demo and scripts/test: a virtualenv in .venv with the project installed.
# Usage: source scripts/bootstrap.sh [extra]   (extra: "dev" for the test tools)
# The install runs only when pyproject.toml changed since the last one (or the venv is new), so
# a second start works offline and does not wait for pip.
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
EXTRA="${1:-}"
STAMP="$VENV/.dailypapers-installed${EXTRA:+-$EXTRA}"
WANT="$("$VENV/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$ROOT/pyproject.toml")"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  if [ "$EXTRA" = "dev" ]; then
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[dev]"
  else
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT"
  fi
  echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
