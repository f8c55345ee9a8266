#!/bin/bash
# Instructions per request of gateway variants, counted by callgrind: the same on every run
# whatever else the machine is doing, so a change of a few percent shows where wrk cannot tell.
# One gateway (SQLite) runs under `valgrind --tool=callgrind`; per variant, after a warm-up,
# REQUESTS sequential keep-alive requests are counted and the total divided by them.
# Usage: bench/callgrind.sh VARIANT...
#   VARIANT: "name | rule-json | chain-json", as bench/ab.sh (without its gateway field).
# Env: REQUESTS (default 2000), WARMUP (500: fewer leaves first-call costs in the count), PYTHON, CONFIG (YAML lines added to the config,
#   e.g. CONFIG='metrics: {enabled: false}'), COMPARE (../shared/bench/compare.sh's location),
#   CONNS and DURATION (e.g. CONNS=32 DURATION=30s: the counted requests come from wrk at that many
#   connections for that long instead of one connection in sequence, so what batches per event-loop
#   turn under load, as Redis calls do, is counted as it runs under load; wrk must be installed),
#   KEEP (a folder: each variant's callgrind dump is copied there as NAME.out, for callgrind_annotate).
# Prints per variant: instructions per request, and the ratio to the first variant.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
requests=${REQUESTS:-2000}
warmup=${WARMUP:-500}
shared=$(dirname "${COMPARE:-$here/../../shared/bench/compare.sh}")
python=${PYTHON:-python3}
[[ $python == */* ]] && python=$(realpath -s "$python")
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
work=$(mktemp -d /tmp/aiproxy-callgrind.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; wait $p 2>/dev/null || true; done; rm -rf "$work"' EXIT
curl -s -o /dev/null -XPOST http://127.0.0.1:9101/ || { pids+=("$("$shared/run_nginx.sh")"); sleep 1; }
cat > "$work/config.yaml" <<YAML
server: {admin_port: 18090, proxy_port: 18091, base_domain: "bench.local"}
storage: {path: "$work/aiproxy.db"}
upstream: {allowed_networks: ["127.0.0.1/32"]}
YAML
printf '%s\n' "${CONFIG:-}" >> "$work/config.yaml"
(cd "$work" && exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.out" \
  "$python" -m aiproxy_core.cli.main serve --config "$work/config.yaml") > "$work/gateway.log" 2>&1 &
gateway=$!
pids+=($gateway)
for _ in $(seq 600); do curl -sf http://127.0.0.1:18090/healthz >/dev/null && break; sleep 0.2; done
curl -sf http://127.0.0.1:18090/healthz >/dev/null || { echo "the gateway did not start: $work/gateway.log" >&2; tail "$work/gateway.log" >&2; exit 1; }
send() { # host key count: sequential keep-alive POSTs of the benchmark's chat request
  "$python" - "$1" "$2" "$3" "$shared/post.lua" <<'PY'
import http.client, re, sys
host, key, count, lua = sys.argv[1], sys.argv[2], int(sys.argv[3]), open(sys.argv[4]).read()
body = re.search(r'wrk\.body\s*=\s*(\[\[.*?\]\]|".*?"|\'.*?\')', lua, re.S).group(1).strip("[]\"'").encode()
connection = http.client.HTTPConnection("127.0.0.1", 18091)
for _ in range(count):
    connection.request("POST", "/v1/chat/completions", body, {"Host": host, "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    answer = connection.getresponse()
    answer.read()
    if answer.status != 200:
        sys.exit(f"{answer.status}: not the canned answer")
PY
}
first=""
printf '%16s%16s%16s\n' variant "instr/request" "ratio"
for variant in "$@"; do
  IFS='|' read -r name rule chain <<< "$variant"
  name=$(echo $name)
  read -r sub key _ < <(RULE=$rule "$python" "$here/seed_route.py" http://127.0.0.1:18090 "$chain")
  send "$sub.bench.local" "$key" "$warmup"
  callgrind_control -i on "$gateway" >/dev/null 2>&1
  callgrind_control -z "$gateway" >/dev/null 2>&1
  if [[ -n ${CONNS:-} ]]; then
    requests=$(wrk -t1 -c"$CONNS" -d"${DURATION:-30s}" --timeout 30s -s "$shared/post.lua" -H "Host: $sub.bench.local" \
      -H "Authorization: Bearer $key" http://127.0.0.1:18091/v1/chat/completions | awk '/requests in/ {print $1}')
  else
    send "$sub.bench.local" "$key" "$requests"
  fi
  callgrind_control -d "$gateway" >/dev/null 2>&1
  callgrind_control -i off "$gateway" >/dev/null 2>&1
  dump=$(ls -t "$work"/cg.out.* | head -1)
  total=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
  [[ -n ${KEEP:-} ]] && mkdir -p "$KEEP" && cp "$dump" "$KEEP/$name.out"
  per=$((total / requests))
  [[ -z $first ]] && first=$per
  printf '%16s%16d%16.4f\n' "$name" "$per" "$(echo "$per / $first" | bc -l)"
done
