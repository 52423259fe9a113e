#!/usr/bin/env bash
# The test command of the README and of CI: installs everything the tests need, then runs
# the linters, the type checker and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/system-deps.sh
scripts/setup.sh test
. "${NETVIGIL_VENV:-.venv}/bin/activate"

echo "== ruff"
ruff check netvigil tests bench provision
ruff format --check netvigil tests bench provision
echo "== mypy"
mypy netvigil
echo "== pytest"
python -m pytest "$@"
