#!/usr/bin/env bash
# The run command of the README: installs NetVigil if needed, then runs the always-on service
# on the embedded runtime with the digital twin as its network. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
exec .venv/bin/netvigil run --twin "$@"
