#!/bin/bash
# A/B of gateway variants on the canned upstream, measured in turns with the Python floor (wrk,
# 32 connections), so each round compares them minutes apart at most: on a noisy shared host
# absolute numbers move between runs, the ratios within a round move less.
# Usage: bench/ab.sh ROUNDS VARIANT...
#   VARIANT: "name | gateway | rule-json | chain-json", gateway "a" or "b": two gateway processes
#   (SQLite), b with CONFIG_B's YAML lines added (e.g. CONFIG_B='metrics: {enabled: false}').
#   Each variant is a tenant with one rule (bench/seed_route.py: RULE fields, CHAIN).
# Prints per round each variant's requests/s, its ratio to the floor, and to the first variant;
# even rounds measure the variants in reverse order.
# Env: DURATION (per measurement, default 5s), CONNS (32), PYTHON, COMPARE, CONFIG_B.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=$1; shift
dur=${DURATION:-5s}
conns=${CONNS:-32}
shared=$(dirname "${COMPARE:-$here/../../shared/bench/compare.sh}")
python=${PYTHON:-python3}
[[ $python == */* ]] && python=$(realpath -s "$python")
work=$(mktemp -d /tmp/aiproxy-ab.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; wait $p 2>/dev/null || true; done; rm -rf "$work"' EXIT
curl -s -o /dev/null -XPOST http://127.0.0.1:9101/ || { pids+=("$("$shared/run_nginx.sh")"); sleep 1; }
venv=/tmp/aiproxy-bench-floor
[[ -x $venv/bin/uvicorn ]] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q starlette 'uvicorn[standard]' aiohttp >/dev/null 2>&1; }
(cd "$shared" && exec "$venv/bin/uvicorn" floor_proxy_aiohttp:app --port 9103 --no-access-log --loop uvloop --http httptools --log-level warning) > /dev/null 2>&1 &
pids+=($!)
declare -A admin proxy
for gw in a b; do
  case $gw in a) admin[$gw]=18080; proxy[$gw]=18081 ;; b) admin[$gw]=18082; proxy[$gw]=18083 ;; esac
  mkdir -p "$work/$gw"
  cat > "$work/$gw/config.yaml" <<YAML
server: {admin_port: ${admin[$gw]}, proxy_port: ${proxy[$gw]}, base_domain: "bench.local"}
storage: {path: "$work/$gw/aiproxy.db"}
upstream: {allowed_networks: ["127.0.0.1/32"]}
YAML
  [[ $gw == b ]] && printf '%s\n' "${CONFIG_B:-}" >> "$work/$gw/config.yaml"
  (cd "$work/$gw" && exec "$python" -m aiproxy_core.cli.main serve --config "$work/$gw/config.yaml") > "$work/$gw/gateway.log" 2>&1 &
  pids+=($!)
done
for gw in a b; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:${admin[$gw]}/healthz" >/dev/null && break; sleep 0.1; done
done
names=(); declare -A hosts keys ports
for variant in "$@"; do
  IFS='|' read -r name gw rule chain <<< "$variant"
  name=$(echo $name); gw=$(echo $gw)
  read -r sub key _ < <(RULE=$rule "$python" "$here/seed_route.py" "http://127.0.0.1:${admin[$gw]}" "$chain")
  names+=("$name"); hosts[$name]="$sub.bench.local"; keys[$name]=$key; ports[$name]=${proxy[$gw]}
done
measure() { # url [headers...] -> requests/s
  local u=$1; shift
  wrk -t1 -c"$conns" -d"$dur" -s "$shared/post.lua" "$@" "$u" 2>&1 | awk '/Requests\/sec/ {print $2}'
}
first=${names[0]}
header="round floor"
for name in "${names[@]}"; do header+=" $name $name/floor"; done
for name in "${names[@]:1}"; do header+=" $name/$first"; done
echo "$header" | awk '{ for (i = 1; i <= NF; i++) printf "%16s", $i; print "" }'
declare -A rps
for round in $(seq "$rounds"); do
  line="$round $(measure http://127.0.0.1:9103/v1/chat/completions)"
  # Even rounds measure the variants in reverse order: the one measured first after the floor
  # was seen to lose a few percent, which a fixed order would charge to one variant every round.
  order=("${names[@]}")
  if (( round % 2 == 0 )); then order=(); for (( i=${#names[@]}-1; i>=0; i-- )); do order+=("${names[$i]}"); done; fi
  for name in "${order[@]}"; do
    rps[$name]=$(measure "http://127.0.0.1:${ports[$name]}/v1/chat/completions" -H "Host: ${hosts[$name]}" -H "Authorization: Bearer ${keys[$name]}")
  done
  for name in "${names[@]}"; do line+=" ${rps[$name]}"; done
  echo "$line" | awk '{
    printf "%16s%16.0f", $1, $2
    for (i = 3; i <= NF; i++) printf "%16.0f%16.3f", $i, $i / $2
    for (i = 4; i <= NF; i++) printf "%16.3f", $i / $3
    print ""
  }'
done
