#!/bin/bash
# What observability costs (bench/ab.sh): an empty chain with /metrics on (gateway a, the
# default), the analytics plugin's chain on the same gateway, and an empty chain with metrics off
# (gateway b). Usage: bench/observability_ab.sh [ROUNDS]   Env: as bench/ab.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CONFIG_B='metrics: {enabled: false}' exec "$here/ab.sh" "${1:-5}" \
  "empty | a | {} | []" \
  "analytics | a | {} | [{\"name\": \"analytics\"}]" \
  "nometrics | b | {} | []"
