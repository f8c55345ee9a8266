#!/bin/bash
# Benchmarks the gateway against ../shared/bench/compare.sh in one run (direct, nginx, floor, target).
# Usage: bench/run.sh [embedded|redis] [CHAIN_JSON]
#   embedded (default): SQLite store, no plugins unless CHAIN_JSON names some.
#   redis: state in the Redis on 127.0.0.1:6379 (prefix aiproxy-bench).
# Env: DURATION, CONNS (passed to compare.sh); COMPARE (path to compare.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mode=${1:-embedded}
chain=${2:-[]}
compare=${COMPARE:-$root/../shared/bench/compare.sh}
[[ -x $compare ]] || { echo "bench/run.sh: $compare not found (set COMPARE=/path/to/compare.sh)" >&2; exit 2; }
python=${PYTHON:-python3}
work=$(mktemp -d /tmp/aiproxy-bench.XXXXXX)
cat > "$work/config.yaml" <<YAML
server: {admin_port: 18080, proxy_port: 18081, base_domain: "bench.local"}
storage: {path: "$work/aiproxy.db"}
YAML
if [[ $mode == redis ]]; then
  echo 'redis: {host: "127.0.0.1", port: 6379, prefix: "aiproxy-bench"}' >> "$work/config.yaml"
  redis-cli --scan --pattern 'aiproxy-bench:*' | xargs -r redis-cli del >/dev/null
fi
"$python" -m aiproxy_core.cli.main serve --config "$work/config.yaml" > "$work/gateway.log" 2>&1 &
gw=$!
trap 'kill $gw 2>/dev/null; wait $gw 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.1; done
read -r sub key < <("$python" "$here/seed_route.py" http://127.0.0.1:18080 "$chain")
echo "gateway: $mode store, chain $chain, tenant $sub"
"$compare" http://127.0.0.1:18081/v1/chat/completions -H "Host: $sub.bench.local" -H "Authorization: Bearer $key"
