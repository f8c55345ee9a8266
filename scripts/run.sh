#!/bin/bash
# Installs aiproxy into .venv (pip is skipped when nothing it depends on changed: see install.sh)
# and runs it embedded (SQLite) with the mock upstream and a demo tenant.
# Extra arguments go to `aiproxy serve` (e.g. --config config.yaml, which then replaces the demo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
if [[ $# -eq 0 ]]; then set -- --demo; fi
exec .venv/bin/aiproxy serve "$@"
