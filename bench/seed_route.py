"""Create the benchmark tenant and its rule over the Admin API; print its subdomain, key and id.

With ``billing`` in the chain the key is a consumer's, on a pay-per-call plan (as paid traffic is).
``RULE`` (environment, JSON) adds or replaces rule fields, e.g. three targets with fallback:
``RULE='{"target": null, "targets": [{"url": "http://127.0.0.1:9101"}, ...], "routing": {}}'``.

Usage: python bench/seed_route.py ADMIN_URL [CHAIN_JSON]
"""

from __future__ import annotations

import json
import os
import sys
import uuid

import httpx


def main() -> None:
    admin = sys.argv[1]
    chain = json.loads(sys.argv[2]) if len(sys.argv) > 2 else []
    with httpx.Client(base_url=admin, timeout=10) as client:
        tenant = client.post(
            "/api/v1/tenants", json={"name": f"bench-{uuid.uuid4().hex[:6]}", "subdomain": "bench" + uuid.uuid4().hex[:6]}
        )
        tenant.raise_for_status()
        t = tenant.json()
        rule = client.post(
            f"/api/v1/tenants/{t['id']}/rules",
            headers={"Authorization": f"Bearer {t['api_key']}"},
            json={
                "path": "/v1",
                "target": "http://127.0.0.1:9101",
                "methods": ["POST"],
                "plugin_chain": chain,
                **json.loads(os.environ.get("RULE") or "{}"),
            },
        )
        if rule.status_code != 201:
            sys.exit(f"rule not created: {rule.status_code} {rule.text}")
        key = t["api_key"]
        if any(entry.get("name") == "billing" for entry in chain):
            # Billing's real case: a consumer's key, on a priced plan the request path must find.
            auth = {"Authorization": f"Bearer {t['api_key']}"}
            base = f"/api/v1/tenants/{t['id']}"
            plan = client.post(f"{base}/plans", headers=auth, json={"name": "bench", "type": "pay_per_call", "price_per_request": "0.001"})
            plan.raise_for_status()
            consumer = client.post(f"{base}/consumers", headers=auth, json={"name": "bench", "plan_id": plan.json()["id"]})
            consumer.raise_for_status()
            made = client.post(f"{base}/consumers/{consumer.json()['id']}/keys", headers=auth, json={})
            made.raise_for_status()
            key = made.json()["key"]
            if any(entry.get("name") == "billing" and (entry.get("settings") or {}).get("prepaid") for entry in chain):
                topped = client.post(f"{base}/consumers/{consumer.json()['id']}/credits", headers=auth, json={"amount": "1000000"})
                topped.raise_for_status()
    print(t["subdomain"], key, t["id"])


if __name__ == "__main__":
    main()
