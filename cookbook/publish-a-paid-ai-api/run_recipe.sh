#!/usr/bin/env bash
# Publish a paid AI API: from nothing to a consumer's invoice, with curl and the aiproxy CLI.
#
#   ADMIN_PORT (8080), PROXY_PORT (8081), MOCK_PORT (9100): where things listen
#   DATA_DIR (./aiproxy-recipe-data): the gateway's SQLite files and logs
#   AIPROXY (aiproxy), PYTHON (python3): the commands to run
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ADMIN_PORT="${ADMIN_PORT:-8080}"
PROXY_PORT="${PROXY_PORT:-8081}"
MOCK_PORT="${MOCK_PORT:-9100}"
DATA_DIR="${DATA_DIR:-$PWD/aiproxy-recipe-data}"
AIPROXY="${AIPROXY:-aiproxy}"
PYTHON="${PYTHON:-python3}"
CONFIG="$HERE/config.yaml"
ADMIN="http://127.0.0.1:$ADMIN_PORT"
PROXY="http://127.0.0.1:$PROXY_PORT"
mkdir -p "$DATA_DIR"

# The config file's ports and storage path, overridden from the environment (AIPROXY_<SECTION>__<KEY>).
export AIPROXY_SERVER__ADMIN_PORT="$ADMIN_PORT" AIPROXY_SERVER__PROXY_PORT="$PROXY_PORT"
export AIPROXY_STORAGE__PATH="$DATA_DIR/aiproxy.db"

field() { "$PYTHON" -c "import json, sys; print(json.load(sys.stdin)$1)"; }
wait_for() { for _ in $(seq 1 150); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }

# 1. The mock upstream (an OpenAI-compatible API) and the gateway, embedded.
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
"$AIPROXY" mock-upstream --port "$MOCK_PORT" >"$DATA_DIR/mock.log" 2>&1 &
PIDS+=($!)
"$AIPROXY" serve --config "$CONFIG" >"$DATA_DIR/gateway.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$MOCK_PORT/v1/models"
wait_for "$ADMIN/healthz"

# 2. A tenant (its answer holds the tenant's own API key, shown once).
TENANT=$(curl -sf -X POST "$ADMIN/api/v1/tenants" -H 'Content-Type: application/json' \
  -d '{"name": "Acme AI", "subdomain": "acme"}')
TID=$(echo "$TENANT" | field '["id"]')
AUTH="Authorization: Bearer $(echo "$TENANT" | field '["api_key"]')"
echo "tenant: $TID"

# 3. A pay-per-call plan: 0.015 per request, 0.0005 per embeddings request.
PLAN_ID=$(curl -sf -X POST "$ADMIN/api/v1/tenants/$TID/plans" -H "$AUTH" -H 'Content-Type: application/json' \
  -d '{"name": "Calls", "type": "pay_per_call", "price_per_request": "0.015", "endpoint_prices": {"/v1/embeddings": "0.0005"}}' \
  | field '["id"]')
echo "plan: $PLAN_ID"

# 4. A rule sending /v1 to the upstream through rate_limiter (100 a minute per consumer) and billing.
curl -sf -o /dev/null -X POST "$ADMIN/api/v1/tenants/$TID/rules" -H "$AUTH" -H 'Content-Type: application/json' -d '{
  "path": "/v1", "target": "http://127.0.0.1:'"$MOCK_PORT"'",
  "plugin_chain": [
    {"name": "rate_limiter", "settings": {"limit": 100, "window": "1m"}},
    {"name": "billing", "settings": {}}
  ]}'

# 5. A consumer on the plan, and an API key of it.
CID=$(curl -sf -X POST "$ADMIN/api/v1/tenants/$TID/consumers" -H "$AUTH" -H 'Content-Type: application/json' \
  -d '{"name": "Alice", "plan_id": "'"$PLAN_ID"'"}' | field '["id"]')
KEY=$(curl -sf -X POST "$ADMIN/api/v1/tenants/$TID/consumers/$CID/keys" -H "$AUTH" -H 'Content-Type: application/json' \
  -d '{}' | field '["key"]')
echo "consumer: $CID"

# 6. The consumer calls the API: 5 chat completions and 2 embeddings (the tenant's host is acme.localhost).
for n in 1 2 3 4 5; do
  curl -sf -o /dev/null "$PROXY/v1/chat/completions" -H "Host: acme.localhost" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello '"$n"'"}]}'
done
for n in 1 2; do
  curl -sf -o /dev/null "$PROXY/v1/embeddings" -H "Host: acme.localhost" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d '{"model": "text-embedding-3-small", "input": "Hello '"$n"'"}'
done

# 7. Metering: each call queued a billing event; the gateway's worker moves them into the ledger.
#    `aiproxy billing-worker --once` drains whatever is still queued; wait until all 7 are in.
for _ in $(seq 1 50); do
  "$AIPROXY" billing-worker --config "$CONFIG" --once
  REQUESTS=$(curl -sf "$ADMIN/api/v1/tenants/$TID/consumers/$CID/usage" -H "$AUTH" | field '["requests"]')
  [ "$REQUESTS" = 7 ] && break
  sleep 0.2
done

# 8. Usage and the invoice for this month (UTC), from the CLI (the Admin API answers the same:
#    GET /api/v1/tenants/$TID/consumers/$CID/usage?from=...&to=... and .../invoices/YYYY-MM).
TODAY=$(date -u +%Y-%m-%d)
MONTH=$(date -u +%Y-%m)
echo "usage:"
"$AIPROXY" billing-usage --config "$CONFIG" --tenant "$TID" --consumer "$CID" --from "$MONTH-01" --to "$TODAY"
echo "invoice:"
INVOICE=$("$AIPROXY" billing-invoice --config "$CONFIG" --tenant "$TID" --consumer "$CID" --period "$MONTH")
echo "$INVOICE"
echo "invoice total: $(echo "$INVOICE" | field '["total"]') $(echo "$INVOICE" | field '["currency"]')"
