#!/usr/bin/env bash
# The test command of the README and of CI: installs everything the tests need, then runs
# the linters, the type checker and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
. .venv/bin/activate

echo "== ruff"
ruff check netvigil tests bench
ruff format --check netvigil tests bench
echo "== mypy"
mypy netvigil
echo "== pytest"
python -m pytest "$@"
