#!/bin/bash
# What routing adds to the happy path (bench/ab.sh): a `target` rule; one target with `routing`;
# three targets with fallback; all on gateway a.
# Usage: bench/routing_ab.sh [ROUNDS]   Env: as bench/ab.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
t='{"url": "http://127.0.0.1:9101"}'
exec "$here/ab.sh" "${1:-5}" \
  "target | a | {} | []" \
  "one | a | {\"target\": null, \"targets\": [$t], \"routing\": {\"strategy\": \"fallback\"}} | []" \
  "three | a | {\"target\": null, \"targets\": [$t, $t, $t], \"routing\": {\"strategy\": \"fallback\"}} | []"
