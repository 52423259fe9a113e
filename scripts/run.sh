#!/usr/bin/env bash
# The run command of the README: installs what the service needs if not done yet (the test
# tools are left to scripts/test.sh), then runs the always-on service on the embedded runtime
# with the digital twin as its network. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh service
echo "Starting NetVigil on the digital twin, a simulated network whose first fault comes" \
    "within a minute; Ctrl-C stops it."
exec "${NETVIGIL_VENV:-.venv}/bin/netvigil" run --twin "$@"
