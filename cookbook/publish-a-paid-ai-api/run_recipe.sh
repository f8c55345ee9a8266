#!/usr/bin/env bash
# Publish a paid AI API: from nothing to a consumer's invoice, with curl and the aiproxy CLI.
#
# It starts its own mock upstream and gateway on free loopback ports, keeps their files in a
# temporary directory removed at exit, never talks to a server it did not start, and stops at the
# first unexpected answer with the API's own error message (exit status 1).
#
#   ADMIN_PORT, PROXY_PORT, MOCK_PORT: where to listen (default: free ports, checked); a port where
#                                      something already answers is refused
#   AIPROXY: the aiproxy command (default: $VIRTUAL_ENV/bin/aiproxy, else the checkout's
#            .venv/bin/aiproxy, else `aiproxy` on PATH); PYTHON: the Python beside it
#   KEEP_DATA=1: keep the temporary directory (its path is printed) to look at the logs
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHECKOUT="$(cd "$HERE/../.." && pwd)"
CONFIG="$HERE/config.yaml"

die() { echo "recipe failed: $*" >&2; exit 1; }

# The aiproxy command: as given, else the active virtualenv's, else the checkout's .venv (what
# scripts/install.sh creates), else whatever is on PATH.
if [ -z "${AIPROXY:-}" ]; then
  for candidate in "${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/aiproxy}" "$CHECKOUT/.venv/bin/aiproxy" "$(command -v aiproxy || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then AIPROXY="$candidate"; break; fi
  done
  [ -n "${AIPROXY:-}" ] || die "no aiproxy command found: run scripts/install.sh in the checkout (it creates .venv), or set AIPROXY"
fi
PYTHON="${PYTHON:-$(dirname "$AIPROXY")/python}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)" || die "no Python found: set PYTHON"
command -v curl >/dev/null || die "this recipe needs curl"
echo "aiproxy: $AIPROXY"

# Everything the gateway writes (SQLite files, logs) goes to a temporary directory, removed at exit.
DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/aiproxy-recipe-XXXXXX")"
PIDS=()
cleanup() {
  local status=$?
  set +e
  trap '' PIPE  # a closed output must not stop the cleanup halfway
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$status" != 0 ]; then
    for log in "$DATA_DIR"/*.log; do [ -s "$log" ] && { echo "--- $(basename "$log"):" >&2; tail -n 20 "$log" >&2; }; done
  fi
  if [ "${KEEP_DATA:-}" = 1 ]; then echo "kept: $DATA_DIR" >&2; else rm -rf "$DATA_DIR"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE   # e.g. piped into `head`: still clean up

answers() {  # whether anything accepts connections on 127.0.0.1:$1
  "$PYTHON" -c 'import socket, sys; s = socket.socket(); s.settimeout(1); sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' "$1"
}
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pick_port() {  # $1: the port asked for, or empty for a free one; refused when something answers there
  local port="${1:-$(free_port)}"
  answers "$port" && die "something already answers on 127.0.0.1:$port; this recipe only talks to servers it starts"
  echo "$port"
}
ADMIN_PORT="$(pick_port "${ADMIN_PORT:-}")"
PROXY_PORT="$(pick_port "${PROXY_PORT:-}")"
MOCK_PORT="$(pick_port "${MOCK_PORT:-}")"
[ "$ADMIN_PORT" != "$PROXY_PORT" ] && [ "$PROXY_PORT" != "$MOCK_PORT" ] && [ "$ADMIN_PORT" != "$MOCK_PORT" ] \
  || die "the three ports must differ (admin $ADMIN_PORT, proxy $PROXY_PORT, mock $MOCK_PORT)"
ADMIN="http://127.0.0.1:$ADMIN_PORT"
PROXY="http://127.0.0.1:$PROXY_PORT"

# The config file's ports and storage path, overridden from the environment (AIPROXY_<SECTION>__<KEY>).
export AIPROXY_SERVER__ADMIN_PORT="$ADMIN_PORT" AIPROXY_SERVER__PROXY_PORT="$PROXY_PORT"
export AIPROXY_STORAGE__PATH="$DATA_DIR/aiproxy.db"

field() { "$PYTHON" -c "import json, sys; text = sys.stdin.read(); text or sys.exit(1); print(json.loads(text)$1)"; }

# The error envelope's code and message ({"error": {"code", "message", ...}}), else the body's start.
error_message() {
  "$PYTHON" -c '
import json, sys
text = sys.stdin.read()
try:
    error = json.loads(text)["error"]
    print((error.get("code") or error.get("type")) + ": " + error["message"])
except Exception:
    print(text[:500])'
}

# api METHOD URL [curl args...]: the answer's body on 2xx; otherwise the API's error message, and exit 1.
api() {
  local method="$1" url="$2" out status
  shift 2
  out="$(curl -sS -X "$method" "$url" -H 'Content-Type: application/json' -w '\n%{http_code}' "$@")" \
    || die "$method $url: no answer"
  status="${out##*$'\n'}"
  out="${out%$'\n'*}"
  [ "${status:0:1}" = 2 ] || die "$method $url answered $status: $(printf '%s' "$out" | error_message)"
  printf '%s' "$out"
}

wait_for() {  # $1: URL, $2: the pid that must serve it
  for _ in $(seq 1 300); do
    kill -0 "$2" 2>/dev/null || die "the process serving $1 exited"
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  die "no answer from $1"
}

# 1. The mock upstream (an OpenAI-compatible API) and the gateway, embedded.
"$AIPROXY" mock-upstream --port "$MOCK_PORT" >"$DATA_DIR/mock.log" 2>&1 &
MOCK_PID=$!
PIDS+=("$MOCK_PID")
"$AIPROXY" serve --config "$CONFIG" >"$DATA_DIR/gateway.log" 2>&1 &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
wait_for "http://127.0.0.1:$MOCK_PORT/v1/models" "$MOCK_PID"
wait_for "$ADMIN/healthz" "$GATEWAY_PID"
# The gateway that answers must be ours: its health names our SQLite file (one bound to the port
# before ours would name another, and ours would have exited).
STORE="$(api GET "$ADMIN/healthz" | field '["store"]')"
[ "$STORE" = "SQLite file $DATA_DIR/aiproxy.db" ] || die "the gateway on $ADMIN is not the one this recipe started (its store: $STORE)"
sleep 0.2
kill -0 "$MOCK_PID" 2>/dev/null && kill -0 "$GATEWAY_PID" 2>/dev/null || die "the mock upstream or the gateway exited"

# 2. A tenant (its answer holds the tenant's own API key, shown once).
TENANT=$(api POST "$ADMIN/api/v1/tenants" -d '{"name": "Acme AI", "subdomain": "acme"}')
TID=$(echo "$TENANT" | field '["id"]')
AUTH="Authorization: Bearer $(echo "$TENANT" | field '["api_key"]')"
echo "tenant: $TID"

# 3. A pay-per-call plan: 0.015 per request, 0.0005 per embeddings request.
PLAN_ID=$(api POST "$ADMIN/api/v1/tenants/$TID/plans" -H "$AUTH" \
  -d '{"name": "Calls", "type": "pay_per_call", "price_per_request": "0.015", "endpoint_prices": {"/v1/embeddings": "0.0005"}}' \
  | field '["id"]')
echo "plan: $PLAN_ID"

# 4. A rule sending /v1 to the upstream through rate_limiter (100 a minute per consumer) and billing.
api POST "$ADMIN/api/v1/tenants/$TID/rules" -H "$AUTH" -d '{
  "path": "/v1", "target": "http://127.0.0.1:'"$MOCK_PORT"'",
  "plugin_chain": [
    {"name": "rate_limiter", "settings": {"limit": 100, "window": "1m"}},
    {"name": "billing", "settings": {}}
  ]}' >/dev/null

# 5. A consumer on the plan, and an API key of it.
CID=$(api POST "$ADMIN/api/v1/tenants/$TID/consumers" -H "$AUTH" -d '{"name": "Alice", "plan_id": "'"$PLAN_ID"'"}' | field '["id"]')
KEY=$(api POST "$ADMIN/api/v1/tenants/$TID/consumers/$CID/keys" -H "$AUTH" -d '{}' | field '["key"]')
echo "consumer: $CID"

# 6. The consumer calls the API: 5 chat completions and 2 embeddings (the tenant's host is acme.localhost).
for n in 1 2 3 4 5; do
  api POST "$PROXY/v1/chat/completions" -H "Host: acme.localhost" -H "Authorization: Bearer $KEY" \
    -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello '"$n"'"}]}' >/dev/null
done
for n in 1 2; do
  api POST "$PROXY/v1/embeddings" -H "Host: acme.localhost" -H "Authorization: Bearer $KEY" \
    -d '{"model": "text-embedding-3-small", "input": "Hello '"$n"'"}' >/dev/null
done
echo "calls: 5 chat completions, 2 embeddings"

# 7. Metering: each call queued a billing event; the gateway's worker moves them into the ledger.
#    `aiproxy billing-worker --once` drains whatever is still queued; wait until all 7 are in.
REQUESTS=0
for attempt in $(seq 1 50); do
  REQUESTS=$(api GET "$ADMIN/api/v1/tenants/$TID/consumers/$CID/usage" -H "$AUTH" | field '["requests"]')
  [ "$REQUESTS" = 7 ] && break
  if [ $((attempt % 10)) = 1 ]; then
    "$AIPROXY" billing-worker --config "$CONFIG" --once >/dev/null || die "aiproxy billing-worker failed"
  fi
  sleep 0.2
done
[ "$REQUESTS" = 7 ] || die "the usage report counts $REQUESTS requests, not 7"

# 8. Usage and the invoice for this month (UTC), from the CLI (the Admin API answers the same:
#    GET /api/v1/tenants/$TID/consumers/$CID/usage?from=...&to=... and .../invoices/YYYY-MM).
TODAY=$(date -u +%Y-%m-%d)
MONTH=$(date -u +%Y-%m)
echo "usage:"
"$AIPROXY" billing-usage --config "$CONFIG" --tenant "$TID" --consumer "$CID" --from "$MONTH-01" --to "$TODAY" \
  || die "aiproxy billing-usage failed"
echo "invoice:"
INVOICE=$("$AIPROXY" billing-invoice --config "$CONFIG" --tenant "$TID" --consumer "$CID" --period "$MONTH") \
  || die "aiproxy billing-invoice failed"
echo "$INVOICE"
echo "invoice total: $(echo "$INVOICE" | field '["total"]') $(echo "$INVOICE" | field '["currency"]')"
