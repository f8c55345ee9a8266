#!/bin/bash
# What routing adds to the happy path: one gateway process, three rules on the canned upstream
# (a `target` rule; one target with `routing`; three targets with fallback) and the Python floor,
# measured in turns (wrk, 32 connections) so each round compares them minutes apart at most.
# A noisy shared host moves absolute numbers between runs; the ratios within a round move less.
# Usage: bench/routing_ab.sh [ROUNDS]   Env: DURATION (per measurement, default 5s), PYTHON, COMPARE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=${1:-5}
dur=${DURATION:-5s}
shared=$(dirname "${COMPARE:-$here/../../shared/bench/compare.sh}")
python=${PYTHON:-python3}
[[ $python == */* ]] && python=$(realpath -s "$python")
work=$(mktemp -d /tmp/aiproxy-ab.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; wait $p 2>/dev/null || true; done; rm -rf "$work"' EXIT
cat > "$work/config.yaml" <<YAML
server: {admin_port: 18080, proxy_port: 18081, base_domain: "bench.local"}
storage: {path: "$work/aiproxy.db"}
upstream: {allowed_networks: ["127.0.0.1/32"]}
YAML
curl -s -o /dev/null -XPOST http://127.0.0.1:9101/ || { pids+=("$("$shared/run_nginx.sh")"); sleep 1; }
venv=/tmp/aiproxy-bench-floor
[[ -x $venv/bin/uvicorn ]] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q starlette 'uvicorn[standard]' aiohttp >/dev/null 2>&1; }
(cd "$shared" && exec "$venv/bin/uvicorn" floor_proxy_aiohttp:app --port 9103 --no-access-log --loop uvloop --http httptools --log-level warning) > /dev/null 2>&1 &
pids+=($!)
(cd "$work" && exec "$python" -m aiproxy_core.cli.main serve --config "$work/config.yaml") > "$work/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.1; done
t='{"url": "http://127.0.0.1:9101"}'
declare -A hosts keys
for name in target one three; do
  case $name in
    target) rule='{}' ;;
    one) rule="{\"target\": null, \"targets\": [$t], \"routing\": {\"strategy\": \"fallback\"}}" ;;
    three) rule="{\"target\": null, \"targets\": [$t, $t, $t], \"routing\": {\"strategy\": \"fallback\"}}" ;;
  esac
  read -r sub key _ < <(RULE=$rule "$python" "$here/seed_route.py" http://127.0.0.1:18080 '[]')
  hosts[$name]="$sub.bench.local"; keys[$name]=$key
done
measure() { # url [headers...] -> requests/s
  local u=$1; shift
  wrk -t1 -c32 -d"$dur" -s "$shared/post.lua" "$@" "$u" 2>&1 | awk '/Requests\/sec/ {print $2}'
}
printf '%-6s %10s %10s %10s %10s %12s %12s %12s %10s\n' round floor target one three target/floor one/floor three/floor three/one
for round in $(seq "$rounds"); do
  floor=$(measure http://127.0.0.1:9103/v1/chat/completions)
  declare -A rps
  for name in target one three; do
    rps[$name]=$(measure http://127.0.0.1:18081/v1/chat/completions -H "Host: ${hosts[$name]}" -H "Authorization: Bearer ${keys[$name]}")
  done
  awk -v r="$round" -v f="$floor" -v a="${rps[target]}" -v o="${rps[one]}" -v t="${rps[three]}" \
    'BEGIN { printf "%-6s %10.0f %10.0f %10.0f %10.0f %12.3f %12.3f %12.3f %10.3f\n", r, f, a, o, t, a/f, o/f, t/f, t/o }'
done
