#!/bin/bash
# Installs aiproxy with its test dependencies into .venv, makes sure Redis runs, and runs every test.
# Extra arguments go to pytest (e.g. -m "not slow" to skip the model tests locally, or -k NAME).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --test
scripts/ensure_redis.sh
scripts/ensure_postgresql.sh
scripts/ensure_chromium.sh
exec .venv/bin/python -m pytest "$@"
