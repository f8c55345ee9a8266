#!/bin/bash
# Benchmarks the gateway against ../shared/bench/compare.sh in one run (direct, nginx, floor, target).
# Usage: bench/run.sh [embedded|redis|cluster] [CHAIN_JSON]
#   embedded (default): SQLite store, no plugins unless CHAIN_JSON names some.
#   redis: state in the Redis on 127.0.0.1:6379 (prefix aiproxy-bench).
#   cluster: state on a private 3-master Redis Cluster (bench/private_cluster.py, the SDK's).
# Env: DURATION, CONNS (passed to compare.sh); COMPARE (path to compare.sh); PYTHON (the venv's python);
#   WORKERS: aiproxy serve --workers N (N > 1 needs redis or cluster);
#   RULE: JSON of rule fields to add or replace (bench/seed_route.py), e.g. targets and routing;
#   BILLING_WORKER=separate: the gateway does not run the billing worker (plugins.billing.run_worker
#   false); an `aiproxy billing-worker` process beside it does.
# With billing in the chain, `aiproxy billing-status` runs after the load: the queue's backlog.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mode=${1:-embedded}
chain=${2:-[]}
compare=${COMPARE:-$root/../shared/bench/compare.sh}
[[ -x $compare ]] || { echo "bench/run.sh: $compare not found (set COMPARE=/path/to/compare.sh)" >&2; exit 2; }
python=${PYTHON:-python3}
[[ $python == */* ]] && python=$(realpath -s "$python")  # the gateway runs in its own folder
work=$(mktemp -d /tmp/aiproxy-bench.XXXXXX)
cat > "$work/config.yaml" <<YAML
server: {admin_port: 18080, proxy_port: 18081, base_domain: "bench.local"}
storage: {path: "$work/aiproxy.db"}
upstream: {allowed_networks: ["127.0.0.1/32"]}
YAML
if [[ $mode == redis ]]; then
  echo 'redis: {host: "127.0.0.1", port: 6379, prefix: "aiproxy-bench"}' >> "$work/config.yaml"
  redis-cli --scan --pattern 'aiproxy-bench:*' | xargs -r redis-cli del >/dev/null
fi
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$work"' EXIT
if [[ $mode == cluster ]]; then
  "$python" "$here/private_cluster.py" "$work/nodes" > "$work/cluster.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do [[ -s $work/nodes ]] && break; sleep 0.1; done
  [[ -s $work/nodes ]] || { echo "bench/run.sh: the Redis Cluster did not start:" >&2; cat "$work/cluster.log" >&2; exit 1; }
  read -r node _ < "$work/nodes"
  echo "redis: {host: \"127.0.0.1\", port: $node, cluster: true, prefix: \"aiproxy-bench\"}" >> "$work/config.yaml"
fi
if [[ ${BILLING_WORKER:-} == separate ]]; then
  echo 'plugins: {billing: {run_worker: false}}' >> "$work/config.yaml"
  (cd "$work" && exec "$python" -m aiproxy_core.cli.main billing-worker --config "$work/config.yaml") > "$work/worker.log" 2>&1 &
  pids+=($!)
fi
(cd "$work" && exec "$python" -m aiproxy_core.cli.main serve --config "$work/config.yaml" --workers "${WORKERS:-1}") > "$work/gateway.log" 2>&1 &
pids=($! "${pids[@]}")
for _ in $(seq 100); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.1; done
read -r sub key tenant < <("$python" "$here/seed_route.py" http://127.0.0.1:18080 "$chain")
echo "gateway: $mode store, chain $chain${RULE:+, rule $RULE}, tenant $sub${BILLING_WORKER:+, billing worker $BILLING_WORKER}, ${WORKERS:-1} worker(s)"
# The gateway's own CPU time across the run (it is idle during the other rows), per request it
# served: steadier than requests/s on a shared machine. With --workers, every worker's.
tree() { echo "$1"; local child; for child in $(pgrep -P "$1" || true); do tree "$child"; done; }
cpu_ticks() { local total=0 pid; for pid in $(tree "${pids[0]}"); do total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0))); done; echo "$total"; }
before=$(cpu_ticks)
"$compare" http://127.0.0.1:18081/v1/chat/completions -H "Host: $sub.bench.local" -H "Authorization: Bearer $key" | tee "$work/compare.txt"
after=$(cpu_ticks)
seconds=${DURATION:-8s}; seconds=${seconds%s}
awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" -v secs="$seconds" \
  '$1 == "target" { sub("rps=", "", $3); served += $3 * secs } END { if (served) printf "gateway CPU: %.0f us per request (%.1f s for %d requests)\n", ticks / hz / served * 1e6, ticks / hz, served }' "$work/compare.txt"
if [[ $chain == *billing* ]]; then
  sleep 2  # one worker poll and batch after the last request
  (cd "$work" && "$python" -m aiproxy_core.cli.main billing-status --config "$work/config.yaml" --tenant "$tenant") | "$python" -c 'import json, sys; print("billing-status:", json.dumps(json.load(sys.stdin)))'
fi
