#!/bin/bash
# The monetized chain split into its Redis calls' mechanics and its plugins' own work: key auth
# alone, key auth + the benchmark-only probe plugins (bench/mechanics_probe: the rate limiter's
# counter call and billing's queue append, with no logic around them), and key auth +
# rate_limiter + billing, in turns with the Python floor (bench/ab.sh, on Redis).
# Usage: bench/mechanics.sh [ROUNDS]   (default 4)
# Env: as bench/ab.sh (DURATION, CONNS, PIN, PYTHON, COMPARE).
# The probe package is installed into PYTHON's environment (pip --no-deps) for the run and
# uninstalled after it; the probe's queue (nothing drains it) is deleted from Redis.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
prefix=aiproxy-mechanics
"$python" -m pip install -q --no-deps -e "$here/mechanics_probe" >/dev/null 2>&1 \
  || { echo "bench/mechanics.sh: could not install $here/mechanics_probe into $python's environment" >&2; exit 2; }
trap '"$python" -m pip uninstall -y -q aiproxy-mechanics-probe >/dev/null 2>&1
      redis-cli --scan --pattern "$prefix:*" | xargs -r redis-cli del >/dev/null' EXIT
monetized='[{"name": "rate_limiter", "settings": {"limit": 100000000, "window": "1m"}}, {"name": "billing"}]'
CONFIG_A="redis: {host: \"127.0.0.1\", port: 6379, prefix: \"$prefix\"}" PYTHON=$python "$here/ab.sh" "${1:-4}" \
  "key | a | {} | []" \
  "count | a | {} | [{\"name\": \"probe_count\"}]" \
  "append | a | {} | [{\"name\": \"probe_append\"}]" \
  "both | a | {} | [{\"name\": \"probe_both\"}]" \
  "monetized | a | {} | $monetized"
