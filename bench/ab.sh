#!/bin/bash
# A/B of gateway variants on the canned upstream, measured in turns with the Python floor (wrk,
# 32 connections), so each round compares them minutes apart at most: on a noisy shared host
# absolute numbers move between runs, the ratios within a round move less.
# Usage: bench/ab.sh ROUNDS VARIANT...
#   VARIANT: "name | gateway | rule-json | chain-json", gateway "a" or "b": two gateway processes
#   (SQLite), b with CONFIG_B's YAML lines added (e.g. CONFIG_B='metrics: {enabled: false}') and
#   ENV_B's variables set (e.g. ENV_B='AIPROXY_SERVER__PROXY_SERVER=uvicorn'); CONFIG_A and ENV_A
#   do the same for a (e.g. both on Redis, b running another checkout's code through PYTHONPATH).
#   Each variant is a tenant with one rule (bench/seed_route.py: RULE fields, CHAIN).
# Prints per round each variant's requests/s, its ratio to the floor, and to the first variant;
# then per round the CPU time each process (floor included) spent per request, in µs, from
# /proc (user + system, every thread): less noisy than requests/s when the host is shared.
# Even rounds measure the variants in reverse order.
# Env: DURATION (per measurement, default 5s), CONNS (32), PYTHON, COMPARE, CONFIG_B, ENV_B,
#   PIN=1: the gateways and the floor on CPU 1, wrk and nginx on CPU 0, so a process's CPU time is
#   not moved by where the scheduler put it (on the 2-core host, unpinned runs of one code moved
#   more than a change of 10 %; docs/benchmarks.md, fifth session).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=$1; shift
dur=${DURATION:-5s}
conns=${CONNS:-32}
shared=$(dirname "${COMPARE:-$here/../../shared/bench/compare.sh}")
python=${PYTHON:-python3}
[[ $python == */* ]] && python=$(realpath -s "$python")
work=$(mktemp -d /tmp/aiproxy-ab.XXXXXX)
pids=() pinned_nginx=()
# A shared nginx this run pinned gets every CPU back: later unpinned runs must not inherit CPU 0.
trap 'for p in "${pinned_nginx[@]}"; do taskset -p -c "0-$(( $(nproc) - 1 ))" "$p" >/dev/null 2>&1; done
      for p in "${pids[@]}"; do kill $p 2>/dev/null; wait $p 2>/dev/null || true; done; rm -rf "$work"' EXIT
curl -s -o /dev/null -XPOST http://127.0.0.1:9101/ || { pids+=("$("$shared/run_nginx.sh")"); sleep 1; }
served_cpu=() load_cpu=()
if [[ -n ${PIN:-} ]]; then
  served_cpu=(taskset -c 1) load_cpu=(taskset -c 0)
  # The master's command line names bench-nginx; its workers (which serve) are its children.
  for master in $(pgrep -f bench-nginx); do
    for p in "$master" $(pgrep -P "$master"); do taskset -p -c 0 "$p" >/dev/null && pinned_nginx+=("$p"); done
  done
fi
venv=/tmp/aiproxy-bench-floor
[[ -x $venv/bin/uvicorn ]] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q starlette 'uvicorn[standard]' aiohttp >/dev/null 2>&1; }
(cd "$shared" && exec ${served_cpu[@]+"${served_cpu[@]}"} "$venv/bin/uvicorn" floor_proxy_aiohttp:app --port 9103 --no-access-log --loop uvloop --http httptools --log-level warning) > /dev/null 2>&1 &
pids+=($!)
floor_pid=$!
declare -A admin proxy gateway_pid
for gw in a b; do
  case $gw in a) admin[$gw]=18080; proxy[$gw]=18081 ;; b) admin[$gw]=18082; proxy[$gw]=18083 ;; esac
  mkdir -p "$work/$gw"
  cat > "$work/$gw/config.yaml" <<YAML
server: {admin_port: ${admin[$gw]}, proxy_port: ${proxy[$gw]}, base_domain: "bench.local"}
storage: {path: "$work/$gw/aiproxy.db"}
upstream: {allowed_networks: ["127.0.0.1/32"]}
YAML
  if [[ $gw == a ]]; then extra=${CONFIG_A:-} variables=${ENV_A:-}; else extra=${CONFIG_B:-} variables=${ENV_B:-}; fi
  printf '%s\n' "$extra" >> "$work/$gw/config.yaml"
  environment=(); read -ra environment <<< "$variables"
  (cd "$work/$gw" && exec env "${environment[@]}" ${served_cpu[@]+"${served_cpu[@]}"} "$python" -m aiproxy_core.cli.main serve --config "$work/$gw/config.yaml") > "$work/$gw/gateway.log" 2>&1 &
  pids+=($!)
  gateway_pid[$gw]=$!
done
for gw in a b; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:${admin[$gw]}/healthz" >/dev/null && break; sleep 0.1; done
done
names=(); declare -A hosts keys ports gateways
for variant in "$@"; do
  IFS='|' read -r name gw rule chain <<< "$variant"
  name=$(echo $name); gw=$(echo $gw)
  read -r sub key _ < <(RULE=$rule "$python" "$here/seed_route.py" "http://127.0.0.1:${admin[$gw]}" "$chain")
  names+=("$name"); hosts[$name]="$sub.bench.local"; keys[$name]=$key; ports[$name]=${proxy[$gw]}; gateways[$name]=${gateway_pid[$gw]}
done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system CPU of a process, in clock ticks
tick_us=$((1000000 / $(getconf CLK_TCK)))
measure() { # pid url [headers...] -> "requests/s cpu-µs-per-request" (the CPU of process pid)
  local pid=$1 u=$2; shift 2
  local before out
  before=$(ticks "$pid")
  out=$(${load_cpu[@]+"${load_cpu[@]}"} wrk -t1 -c"$conns" -d"$dur" -s "$shared/post.lua" "$@" "$u" 2>&1)
  echo "$out" | awk -v spent=$(( ($(ticks "$pid") - before) * tick_us )) '
    / requests in / {requests = $1} /Requests\/sec/ {rps = $2}
    END {printf "%s %.1f\n", rps, requests ? spent / requests : 0}'
}
first=${names[0]}
header="round floor"
for name in "${names[@]}"; do header+=" $name $name/floor"; done
for name in "${names[@]:1}"; do header+=" $name/$first"; done
echo "$header" | awk '{ for (i = 1; i <= NF; i++) printf "%16s", $i; print "" }'
declare -A rps cpu
cpu_lines=()
# A warm-up of each, not counted: first requests pay one-time costs (imports, tables, caches).
dur_measured=$dur; dur=2s
measure "$floor_pid" http://127.0.0.1:9103/v1/chat/completions > /dev/null
for name in "${names[@]}"; do
  measure "${gateways[$name]}" "http://127.0.0.1:${ports[$name]}/v1/chat/completions" -H "Host: ${hosts[$name]}" -H "Authorization: Bearer ${keys[$name]}" > /dev/null
done
dur=$dur_measured
for round in $(seq "$rounds"); do
  read -r floor_rps floor_cpu < <(measure "$floor_pid" http://127.0.0.1:9103/v1/chat/completions)
  line="$round $floor_rps"
  cpu_line="$round $floor_cpu"
  # Even rounds measure the variants in reverse order: the one measured first after the floor
  # was seen to lose a few percent, which a fixed order would charge to one variant every round.
  order=("${names[@]}")
  if (( round % 2 == 0 )); then order=(); for (( i=${#names[@]}-1; i>=0; i-- )); do order+=("${names[$i]}"); done; fi
  for name in "${order[@]}"; do
    read -r "rps[$name]" "cpu[$name]" < <(measure "${gateways[$name]}" "http://127.0.0.1:${ports[$name]}/v1/chat/completions" -H "Host: ${hosts[$name]}" -H "Authorization: Bearer ${keys[$name]}")
  done
  for name in "${names[@]}"; do line+=" ${rps[$name]}"; cpu_line+=" ${cpu[$name]}"; done
  cpu_lines+=("$cpu_line")
  echo "$line" | awk '{
    printf "%16s%16.0f", $1, $2
    for (i = 3; i <= NF; i++) printf "%16.0f%16.3f", $i, $i / $2
    for (i = 4; i <= NF; i++) printf "%16.3f", $i / $3
    print ""
  }'
done
echo
echo "CPU per request (µs, user + system)"
header="round floor"
for name in "${names[@]}"; do header+=" $name"; done
for name in "${names[@]:1}"; do header+=" $name/$first"; done
echo "$header" | awk '{ for (i = 1; i <= NF; i++) printf "%16s", $i; print "" }'
for cpu_line in "${cpu_lines[@]}"; do
  echo "$cpu_line" | awk '{
    printf "%16s", $1
    for (i = 2; i <= NF; i++) printf "%16.1f", $i
    for (i = 4; i <= NF; i++) printf "%16.3f", $i / $3
    print ""
  }'
done
