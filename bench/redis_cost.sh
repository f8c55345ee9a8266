#!/bin/bash
# What a chain costs Redis, round by round under load: commands and Redis CPU per request (INFO
# commandstats, reset before each round) and used_memory after each round, on a private
# redis-server, so nothing else that uses Redis on this machine is counted.
# Usage: bench/redis_cost.sh [CHAIN_JSON]   (default: key auth + rate_limiter + billing, a consumer key on a plan)
# Env: ROUNDS (5), ROUND_SECONDS (10), WARMUP_SECONDS (60: the first window, after which memory must
#   stay flat), CONNS (32), PYTHON (the venv's python), REDIS_PORT (16399), CLUSTER=1 (a 3-master
#   Redis Cluster from the SDK instead of one server; commands and CPU summed over its masters),
#   PIN=1 (Redis alone on CPU 1, everything else on CPU 0: Redis's time is then its own, not
#   stretched by the gateway and the load generator preempting it on a 2-core machine),
#   PLUGINS_YAML (a `plugins:` line for config.yaml; default: billing remembers request ids 60 s,
#   so memory must be flat after the 60 s warm-up).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
chain=${1:-'[{"name": "rate_limiter", "settings": {"limit": 100000000, "window": "1m"}}, {"name": "billing"}]'}
rounds=${ROUNDS:-5}; round_s=${ROUND_SECONDS:-10}; warmup_s=${WARMUP_SECONDS:-60}; conns=${CONNS:-32}
port=${REDIS_PORT:-16399}
python=${PYTHON:-python3}
[[ $python == */* ]] && python=$(realpath -s "$python")
shared=$(cd "$here/../.." && pwd)/shared/bench
work=$(mktemp -d /tmp/aiproxy-redis-cost.XXXXXX)
pids=()
redis_cpu=(); rest_cpu=()
[[ -n ${PIN:-} ]] && redis_cpu=(taskset -c 1) && rest_cpu=(taskset -c 0)
cleanup() {
  set +e  # every step, whatever failed before it
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [[ -f $work/cluster.pid ]] && kill "$(cat "$work/cluster.pid")" 2>/dev/null && sleep 1
  rm -rf "$work"
}
trap cleanup EXIT

if [[ -n ${CLUSTER:-} ]]; then
  "$python" "$here/private_cluster.py" "$work/nodes" > "$work/cluster.log" 2>&1 &
  echo $! > "$work/cluster.pid"
  for _ in $(seq 300); do [[ -s $work/nodes ]] && break; sleep 0.1; done
  read -r -a nodes < "$work/nodes"
  redis_yaml="redis: {host: \"127.0.0.1\", port: ${nodes[0]}, cluster: true, prefix: \"bench\"}"
else
  "${redis_cpu[@]}" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" > "$work/redis.log" 2>&1 &
  pids+=($!)
  nodes=("$port")
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis_yaml="redis: {host: \"127.0.0.1\", port: $port, prefix: \"bench\"}"
fi
masters() { for n in "${nodes[@]}"; do redis-cli -p "$n" role 2>/dev/null | head -1 | grep -q master && echo "$n"; done; }

if ! curl -s -o /dev/null -XPOST http://127.0.0.1:9101/; then
  pids+=("$("${rest_cpu[@]}" "$shared/run_nginx.sh")"); sleep 1
fi
cat > "$work/config.yaml" <<YAML
server: {admin_port: 18090, proxy_port: 18091, base_domain: "bench.local"}
storage: {path: "$work/aiproxy.db"}
upstream: {allowed_networks: ["127.0.0.1/32"]}
$redis_yaml
${PLUGINS_YAML:-"plugins: {billing: {dedupe_seconds: 60, claim_idle: 10}}"}
YAML
(cd "$work" && exec "${rest_cpu[@]}" "$python" -m aiproxy_core.cli.main serve --config "$work/config.yaml") > "$work/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do curl -sf http://127.0.0.1:18090/healthz >/dev/null && break; sleep 0.1; done
curl -sf http://127.0.0.1:18090/healthz >/dev/null || { echo "the gateway did not start:" >&2; tail -20 "$work/gateway.log" >&2; exit 1; }
read -r sub key _tenant < <("$python" "$here/seed_route.py" http://127.0.0.1:18090 "$chain")
load() { "${rest_cpu[@]}" wrk -t1 -c"$conns" -d"$1s" -s "$shared/post.lua" -H "Host: $sub.bench.local" -H "Authorization: Bearer $key" http://127.0.0.1:18091/v1/chat/completions; }

# Sums over every master. commandstats: "<commands> <usec>": commands include those a script
# runs (each counted apart); usec is the time of EVAL/EVALSHA calls (what runs inside them
# included) and of the plain XADDs: the time Redis spent on the gateway's commands. cpu: Redis's own CPU seconds (user + sys, its network work included): the figure that
# decides how many gateways one Redis serves.
# On one server the queue's XADD is a plain command (no script), so its time is added; on a
# cluster it runs inside a script and is counted there already.
plain=${CLUSTER:+none}; plain=${plain:-xadd}
commandstats() { for n in $(masters); do redis-cli -p "$n" info commandstats; done | tr -d '\r' | awk -F'[:=,]' -v plain="cmdstat_$plain" '/^cmdstat_/ { calls += $3; if ($1 ~ /^cmdstat_eval/ || $1 == plain) usec += $5 } END { print calls + 0, usec + 0 }'; }
cpu() { for n in $(masters); do redis-cli -p "$n" info cpu; done | tr -d '\r' | awk -F: '$1 == "used_cpu_sys" || $1 == "used_cpu_user" {s += $2} END {printf "%.6f\n", s}'; }
used_memory() { for n in $(masters); do redis-cli -p "$n" info memory; done | tr -d '\r' | awk -F: '$1 == "used_memory" {m += $2} END {print m + 0}'; }

echo "chain: $chain"
echo "redis: ${#nodes[@]} node(s)${CLUSTER:+ (cluster)}; load: $conns connections; warm-up ${warmup_s} s, then $rounds rounds of ${round_s} s"
load "$warmup_s" > /dev/null
printf '%-6s %9s %9s %14s %18s %16s %14s\n' round rps requests "cmds/request" "command us/request" "cpu us/request" used_memory
for r in $(seq "$rounds"); do
  for n in $(masters); do redis-cli -p "$n" config resetstat > /dev/null; done
  cpu_before=$(cpu)
  out=$(load "$round_s")
  sleep 1  # the worker's last batch of the round
  read -r calls usec < <(commandstats)
  cpu_after=$(cpu)
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  printf '%-6s %9s %9s %14.2f %18.2f %16.2f %14s\n' "$r" "$rps" "$requests" "$(bc -l <<<"$calls / $requests")" "$(bc -l <<<"$usec / $requests")" \
    "$(bc -l <<<"($cpu_after - $cpu_before) * 1000000 / $requests")" "$(used_memory)"
done
echo "commands by calls in the last round:"
for n in $(masters); do redis-cli -p "$n" info commandstats; done | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_/ {calls[$1] += $3; usec[$1] += $5} END {for (c in calls) printf "  %-28s %10d calls %12d usec\n", c, calls[c], usec[c]}' | sort -k2 -nr | head -12
