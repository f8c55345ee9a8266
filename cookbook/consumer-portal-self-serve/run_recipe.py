"""Open a tenant's developer portal to self-serve signups, then be the consumer who signs up.

Starts its own mock upstream and its own gateway (``aiproxy serve``, billing installed) on free
loopback ports, in a temporary directory: it talks to no other gateway and writes nothing here.
Every step prints what it did; any answer other than the expected one stops the recipe with the
API's own error message.

    python run_recipe.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from aiproxy_core import create_mock_upstream
from aiproxy_sdk import GatewayProcess, ServerThread


class RecipeFailed(Exception):
    pass


def expect(response: httpx.Response, status: int, step: str) -> Any:
    """The JSON answer (None for a page), or stop with the API's message (its error envelope) and the step's name."""
    if response.status_code != status:
        try:
            error = response.json()["error"]
            said = f"{error['code']}: {error['message']} (request id {error['request_id']})"
        except Exception:
            said = response.text[:500]
        raise RecipeFailed(f"{step}: expected {status}, got {response.status_code}: {said}")
    return response.json() if response.headers.get("content-type", "").startswith("application/json") else None


def publish(admin: httpx.Client, upstream: str) -> dict[str, Any]:
    """The tenant's side (Admin API): a tenant, a public free plan, a billed rule, self-serve on."""
    tenant = expect(admin.post("/api/v1/tenants", json={"name": "Acme AI", "subdomain": "acme"}), 201, "create the tenant")
    auth = {"Authorization": f"Bearer {tenant['api_key']}"}
    base = f"/api/v1/tenants/{tenant['id']}"
    free = expect(admin.post(base + "/plans", headers=auth, json={
        "name": "Free", "type": "free", "quota": 100, "period": "month", "public": True,
        "description": "100 requests a month, no card needed."}), 201, "create the free plan")
    expect(admin.post(base + "/plans", headers=auth, json={
        "name": "Pro", "type": "pay_per_call", "price_per_request": "0.002", "public": True}), 201, "create the paid plan")
    expect(admin.post(base + "/rules", headers=auth, json={
        "path": "/v1", "target": upstream, "description": "OpenAI-compatible chat completions",
        "plugin_chain": [{"name": "billing"}]}), 201, "create the rule")
    # Self-serve is off until the tenant says so, and the tenant sets every term of it.
    portal = {"self_serve": True, "signup_plan": free["id"], "max_self_serve_consumers": 100, "signups_per_hour": 3}
    expect(admin.patch(base, json={"portal": portal}), 200, "turn self-serve signup on")
    print(f"tenant {tenant['id']}: free plan {free['id']}, self-serve on")
    return tenant


def consume(portal: httpx.Client) -> str:
    """The consumer's side (Proxy API, no key to start with): read, sign up, call, read usage, rotate."""
    page = portal.get("/-/portal")
    expect(page, 200, "open the portal")
    if "Get a key" not in page.text:
        raise RecipeFailed("the portal does not offer signup although self-serve is on")
    plans = expect(portal.get("/-/portal/api/billing/plans"), 200, "read the plans")["data"]
    print("plans on sale:", ", ".join(f"{p['name']} ({p['type']})" for p in plans))

    refused = portal.post("/-/portal/api/signup", json={"name": "Ada", "plan_id": "plan_anything"})
    print("a signup choosing its plan is refused:", expect(refused, 422, "refuse a signup naming its plan")["error"]["message"])

    signed_up = expect(portal.post("/-/portal/api/signup", json={"name": "Ada's weather bot"}), 201, "sign up")
    key = signed_up["key"]
    print(f"signed up as {signed_up['consumer']['id']} on plan {signed_up['consumer']['plan_id']}; key {signed_up['prefix']}... (shown once)")

    bearer = {"Authorization": f"Bearer {key}"}
    for n in (1, 2):
        answer = expect(portal.post("/v1/chat/completions", headers=bearer, json={
            "model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Weather {n}?"}]}), 200, "call the API")
        print("answer:", answer["choices"][0]["message"]["content"])

    usage: dict[str, Any] = {}
    for _ in range(100):  # billing's worker writes the ledger in the background
        usage = expect(portal.get("/-/portal/api/billing/usage", headers=bearer), 200, "read my usage")
        if usage["requests"] == 2:
            break
        time.sleep(0.1)
    if usage.get("requests") != 2:
        raise RecipeFailed(f"usage never reached 2 requests: {usage}")
    print(f"usage this month: {usage['requests']} requests, cost {usage['cost']}")

    rotated = expect(portal.post("/-/portal/api/key/rotate", headers=bearer), 201, "rotate my key")
    old = portal.get("/-/portal/api/me", headers=bearer)
    print("the old key now answers:", old.status_code, old.json()["error"]["code"])
    if old.status_code != 401:
        raise RecipeFailed("the old key still works after rotation")
    me = expect(portal.get("/-/portal/api/me", headers={"Authorization": f"Bearer {rotated['key']}"}), 200, "sign in with the new key")
    return f"signed in as {me['consumer']['name']} with the rotated key"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="aiproxy-portal-recipe-") as workdir, ServerThread(create_mock_upstream()) as upstream:
        gateway = GatewayProcess({"server": {"base_domain": "localhost"}, "storage": {"path": str(Path(workdir) / "aiproxy.db")},
                                  "logging": {"level": "warning"}}, workdir=Path(workdir))
        with gateway:
            with httpx.Client(base_url=gateway.admin_url, timeout=10) as admin:
                publish(admin, upstream)
            # The tenant is the Host's subdomain of base_domain: acme.localhost.
            with httpx.Client(base_url=gateway.proxy_url, headers={"Host": "acme.localhost"}, timeout=10) as portal:
                print(consume(portal))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RecipeFailed as failure:
        print(f"recipe failed: {failure}", file=sys.stderr)
        sys.exit(1)
