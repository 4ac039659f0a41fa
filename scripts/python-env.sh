#!/usr/bin/env bash
# Creates the Python virtual environment ($VSEARCH_VENV, default .venv) with
# scripts/requirements.txt. Re-running it only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VSEARCH_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
    echo "==> creating Python environment in $venv"
    python3 -m venv "$venv"
fi
stamp="$venv/.requirements.sha"
want=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> pip install -r scripts/requirements.txt"
    "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/requirements.txt
    echo "$want" >"$stamp"
fi
