# Sourced by scripts/dev and scripts/test: a virtualenv in .venv with Atlas installed, made
# or refreshed when pyproject.toml changes. Needs only Python 3.11+ on PATH (or $PYTHON).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Atlas needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
venv="$root/.venv"
stamp="$venv/.installed-$(cat "$root/pyproject.toml" "$root/client/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "Installing Atlas into $venv ..." >&2
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -e "$root[test,rocksdb]" -e "$root/client[fastapi]"
  rm -f "$venv"/.installed-* && touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
cd "$root"
