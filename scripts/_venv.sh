# Shared by scripts/run and scripts/test: make .venv and install the project from its own files.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "ptt needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
VENV="$ROOT/.venv"
STAMP="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)-$1"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ]; then
  echo "==> installing ptt and its dependencies into .venv (first run takes a minute or two)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  if [ "$1" = "dev" ]; then
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[dev]"
  else
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT"
  fi
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
