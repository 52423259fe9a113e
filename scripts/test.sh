#!/usr/bin/env bash
# The test command of the README and of CI: installs everything the tests need, then runs
# the linters, the type checker and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/system-deps.sh
NETVIGIL_EXTRAS="${NETVIGIL_EXTRAS:-dev,ml}" scripts/setup.sh  # ml: semantic log tests run in CI
. .venv/bin/activate

echo "== ruff"
ruff check netvigil tests bench provision
ruff format --check netvigil tests bench provision
echo "== mypy"
mypy netvigil
echo "== pytest"
python -m pytest "$@"
