#!/bin/bash
# Requests/s and gateway CPU per request of aiproxy beside other gateways, in one run on this host,
# all proxying the same OpenAI-format POST /v1/chat/completions to the canned upstream (nginx, 9101):
#   floor    the Python floor proxy (starlette + uvicorn + aiohttp, ../shared/bench), as in bench/ab.sh
#   aiproxy  this gateway, SQLite storage, one tenant with one rule and an empty plugin chain
#   portkey  the Portkey AI gateway (npm @portkey-ai/gateway, Node), provider openai with
#            x-portkey-custom-host http://127.0.0.1:9101/v1
#   litellm  the LiteLLM proxy (pip litellm[proxy], its own venv), one uvicorn worker, model
#            openai/gpt-4o-mini with api_base http://127.0.0.1:9101/v1, master key auth, no DB
# Portkey and LiteLLM are installed under /tmp on the first run (/tmp/bench-portkey,
# /tmp/bench-litellm) and reused after; a target whose install or first request fails is skipped.
# Load: wrk -t1 -c$CONNS -d$DURATION with ../shared/bench/post.lua, after a 2 s warm-up per target
# that is not counted. CPU per request: user + system time of the gateway process and all its
# descendants (/proc/<pid>/stat fields 14 + 15), in µs, over the requests wrk completed.
# Usage: bench/competitors.sh
# Env: DURATION (per measurement, default 8s), CONNS (32), PYTHON (aiproxy's python, default
#   the repository's .venv/bin/python), ROUNDS (1; each round measures every target once, floor first).
# Prints per round one line per target: name rps cpu_us_per_request rps/floor.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
shared=$(cd "$root/../shared/bench" && pwd)
dur=${DURATION:-8s}
conns=${CONNS:-32}
rounds=${ROUNDS:-1}
python=${PYTHON:-$root/.venv/bin/python}
[[ $python == */* ]] && python=$(realpath -s "$python")
portkey_dir=/tmp/bench-portkey
litellm_venv=/tmp/bench-litellm
floor_port=9103 aiproxy_admin=18180 aiproxy_port=18181 portkey_port=18787 litellm_port=18400
work=$(mktemp -d /tmp/aiproxy-competitors.XXXXXX)
pids=()

descendants() { # pid -> the pid and every process below it
  echo "$1"
  local child
  for child in $(pgrep -P "$1" || true); do descendants "$child"; done
}
cleanup() {
  local p all
  for p in "${pids[@]}"; do
    all=$(descendants "$p")
    kill $all 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# user + system CPU of a process and its descendants, in clock ticks (the comm field may hold
# spaces, so fields are counted after its closing parenthesis: 14 and 15 become 12 and 13)
ticks() {
  local total=0 p t
  for p in $(descendants "$1"); do
    t=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
tick_us=$((1000000 / $(getconf CLK_TCK)))
measure() { # name pid url [headers...] -> "requests/s cpu-µs-per-request"
  local name=$1 pid=$2 u=$3; shift 3
  local before out
  before=$(ticks "$pid")
  out=$(wrk -t1 -c"$conns" -d"$dur" -s "$shared/post.lua" "$@" "$u" 2>&1)
  local spent=$(( ($(ticks "$pid") - before) * tick_us ))
  # requests/s of errors would flatter a gateway: say so
  echo "$out" | awk -v name="$name" '/Non-2xx|Socket errors/ {print "warning: " name ": " $0 > "/dev/stderr"}'
  echo "$out" | awk -v spent=$spent '
    / requests in / {requests = $1} /Requests\/sec/ {rps = $2}
    END {printf "%s %.1f\n", rps, requests ? spent / requests : 0}'
}
post() { # url [curl args...] -> HTTP status of one chat completion
  local u=$1; shift
  curl -s -o "$work/answer" -w '%{http_code}' -m 30 -XPOST "$u" -H 'Content-Type: application/json' "$@" \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}' || true
}
reached_upstream() { # the canned answer's id, so the 200 came from 9101 and not from a cache or mock
  [[ $1 == 200 ]] && grep -q chatcmpl-bench "$work/answer"
}
port_taken() { ss -ltnH "sport = :$1" | grep -q .; }
elapsed() { echo $(( $(date +%s) - $1 ))s; }

curl -s -o /dev/null -XPOST http://127.0.0.1:9101/ || { pids+=("$("$shared/run_nginx.sh")"); sleep 1; }
for port in $floor_port $aiproxy_admin $aiproxy_port $portkey_port $litellm_port; do
  port_taken "$port" && { echo "bench/competitors.sh: port $port is in use (another benchmark running?)" >&2; exit 1; }
done

names=()
declare -A pid_of url_of headers_of

# floor
venv=/tmp/aiproxy-bench-floor
[[ -x $venv/bin/uvicorn ]] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q starlette 'uvicorn[standard]' aiohttp >/dev/null 2>&1; }
(cd "$shared" && exec "$venv/bin/uvicorn" floor_proxy_aiohttp:app --port $floor_port --no-access-log --loop uvloop --http httptools --log-level warning) > /dev/null 2>&1 &
pids+=($!)
pid_of[floor]=$!; url_of[floor]=http://127.0.0.1:$floor_port/v1/chat/completions; headers_of[floor]=
for _ in $(seq 100); do [[ $(post "${url_of[floor]}") == 200 ]] && break; sleep 0.1; done
reached_upstream "$(post "${url_of[floor]}")" || { echo "bench/competitors.sh: the floor proxy does not answer 200" >&2; exit 1; }
names+=(floor)

# aiproxy
mkdir -p "$work/aiproxy"
cat > "$work/aiproxy/config.yaml" <<YAML
server: {admin_port: $aiproxy_admin, proxy_port: $aiproxy_port, base_domain: "bench.local"}
storage: {path: "$work/aiproxy/aiproxy.db"}
upstream: {allowed_networks: ["127.0.0.1/32"]}
YAML
(cd "$work/aiproxy" && exec "$python" -m aiproxy_core.cli.main serve --config "$work/aiproxy/config.yaml") > "$work/aiproxy/gateway.log" 2>&1 &
pids+=($!)
pid_of[aiproxy]=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$aiproxy_admin/healthz" >/dev/null && break; sleep 0.1; done
read -r sub key _ < <("$python" "$here/seed_route.py" "http://127.0.0.1:$aiproxy_admin" '[]')
url_of[aiproxy]=http://127.0.0.1:$aiproxy_port/v1/chat/completions
headers_of[aiproxy]="Host: $sub.bench.local|Authorization: Bearer $key"
status=$(post "${url_of[aiproxy]}" -H "Host: $sub.bench.local" -H "Authorization: Bearer $key")
reached_upstream "$status" || { echo "bench/competitors.sh: aiproxy answered $status:" >&2; tail -20 "$work/aiproxy/gateway.log" >&2; exit 1; }
names+=(aiproxy)

# portkey
portkey_js=$portkey_dir/node_modules/@portkey-ai/gateway/build/start-server.js
portkey_skip=
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  portkey_skip="node or npm not found"
elif [[ ! -f $portkey_js ]]; then
  started=$(date +%s)
  mkdir -p "$portkey_dir"
  [[ -f $portkey_dir/package.json ]] || echo '{"name": "bench-portkey", "private": true}' > "$portkey_dir/package.json"
  if npm install --prefix "$portkey_dir" --no-audit --no-fund @portkey-ai/gateway > "$portkey_dir/install.log" 2>&1 && [[ -f $portkey_js ]]; then
    echo "portkey: installed in $(elapsed "$started") (log: $portkey_dir/install.log)" >&2
  else
    portkey_skip="npm install failed: $(grep -m1 '^npm error' "$portkey_dir/install.log" || tail -1 "$portkey_dir/install.log")"
  fi
fi
if [[ -z $portkey_skip ]]; then
  (cd "$portkey_dir" && exec node "$portkey_js" --port=$portkey_port --headless) > "$work/portkey.log" 2>&1 &
  pids+=($!)
  pid_of[portkey]=$!
  url_of[portkey]=http://127.0.0.1:$portkey_port/v1/chat/completions
  headers_of[portkey]="x-portkey-provider: openai|x-portkey-custom-host: http://127.0.0.1:9101/v1|Authorization: Bearer sk-bench-dummy"
  for _ in $(seq 150); do curl -s -o /dev/null "http://127.0.0.1:$portkey_port/" && break; sleep 0.2; done
  status=$(post "${url_of[portkey]}" -H 'x-portkey-provider: openai' -H 'x-portkey-custom-host: http://127.0.0.1:9101/v1' -H 'Authorization: Bearer sk-bench-dummy')
  if reached_upstream "$status"; then names+=(portkey); else portkey_skip="first request answered $status: $(head -c 200 "$work/answer" 2>/dev/null)"; fi
fi
[[ -n $portkey_skip ]] && echo "portkey: skipped ($portkey_skip)"
[[ -f $portkey_dir/node_modules/@portkey-ai/gateway/package.json ]] &&
  echo "portkey: @portkey-ai/gateway $(node -p "require('$portkey_dir/node_modules/@portkey-ai/gateway/package.json').version"), node $(node --version)" >&2

# litellm
litellm_skip=
if [[ ! -x $litellm_venv/bin/litellm ]]; then
  started=$(date +%s)
  if { [[ -x $litellm_venv/bin/pip ]] || python3 -m venv "$litellm_venv"; } &&
     "$litellm_venv/bin/pip" install 'litellm[proxy]' > "$work/litellm-install.log" 2>&1 && [[ -x $litellm_venv/bin/litellm ]]; then
    cp "$work/litellm-install.log" "$litellm_venv/install.log"
    echo "litellm: installed in $(elapsed "$started") (log: $litellm_venv/install.log)" >&2
  else
    litellm_skip="pip install failed: $(grep -m1 '^ERROR' "$work/litellm-install.log" || tail -1 "$work/litellm-install.log")"
  fi
fi
if [[ -z $litellm_skip ]]; then
  litellm_key=sk-bench-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  cat > "$work/litellm.yaml" <<YAML
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:9101/v1
      api_key: sk-bench-dummy
litellm_settings:
  telemetry: false
general_settings:
  master_key: $litellm_key
YAML
  # the model cost map from the package, not fetched from the network at start
  (cd "$work" && exec env LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR \
    "$litellm_venv/bin/litellm" --config "$work/litellm.yaml" --host 127.0.0.1 --port $litellm_port --num_workers 1) > "$work/litellm.log" 2>&1 &
  pids+=($!)
  pid_of[litellm]=$!
  url_of[litellm]=http://127.0.0.1:$litellm_port/v1/chat/completions
  headers_of[litellm]="Authorization: Bearer $litellm_key"
  for _ in $(seq 240); do
    curl -sf -o /dev/null "http://127.0.0.1:$litellm_port/health/liveliness" && break
    kill -0 "${pid_of[litellm]}" 2>/dev/null || break
    sleep 0.5
  done
  status=$(post "${url_of[litellm]}" -H "Authorization: Bearer $litellm_key")
  if reached_upstream "$status"; then
    names+=(litellm)
  else
    litellm_skip="first request answered $status: $(head -c 200 "$work/answer" 2>/dev/null; tail -3 "$work/litellm.log" | tr '\n' ' ')"
  fi
fi
[[ -n $litellm_skip ]] && echo "litellm: skipped ($litellm_skip)"
[[ -x $litellm_venv/bin/litellm ]] && echo "litellm: $("$litellm_venv/bin/pip" show litellm 2>/dev/null | awk '/^Version:/ {print $2}')" >&2

run() { # name -> "requests/s cpu-µs-per-request"
  local name=$1 h args=()
  IFS='|' read -ra h <<< "${headers_of[$name]}"
  for hdr in "${h[@]}"; do args+=(-H "$hdr"); done
  measure "$name" "${pid_of[$name]}" "${url_of[$name]}" "${args[@]}"
}

# A warm-up of each, not counted: first requests pay one-time costs (imports, JIT, caches).
dur_measured=$dur; dur=2s
for name in "${names[@]}"; do run "$name" > /dev/null; done
dur=$dur_measured

printf '%-10s %10s %18s %10s\n' name rps cpu_us_per_request rps/floor
for round in $(seq "$rounds"); do
  (( rounds > 1 )) && echo "# round $round"
  floor_rps=
  for name in "${names[@]}"; do
    read -r rps cpu < <(run "$name")
    [[ $name == floor ]] && floor_rps=$rps
    awk -v n="$name" -v r="$rps" -v c="$cpu" -v f="$floor_rps" \
      'BEGIN {printf "%-10s %10.0f %18.1f %10.3f\n", n, r, c, f ? r / f : 0}'
  done
done
