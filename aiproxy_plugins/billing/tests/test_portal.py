"""Billing's developer-portal sections: public plans for anyone, and for a signed-in consumer its
own usage, invoices and credits, from the same queries as the Admin API."""

from __future__ import annotations

from typing import Any

from aiproxy_billing import Billing
from aiproxy_core import PORTAL_API

FREE = {"name": "Free", "type": "free", "quota": 100, "description": "Try it out", "public": True}
HIDDEN = {"name": "Partner deal", "type": "pay_per_call", "price_per_request": "0.001"}
PRO = {"name": "Pro", "type": "pay_per_call", "price_per_request": "0.01", "public": True}


async def test_sections_show_public_plans_and_the_consumers_own_figures(aiproxy_gateway_factory: Any, consumer: Any, wait_for: Any) -> None:
    gw = await aiproxy_gateway_factory(plugins={"billing": Billing(run_worker=True)}, chain=[{"name": "billing"}])
    plans = f"/api/v1/tenants/{gw.tenant['id']}/plans"
    made = {}
    for plan in (FREE, HIDDEN, PRO):
        response = await gw.admin.post(plans, json=plan, headers=gw.tenant_auth)
        assert response.status_code == 201, response.text
        made[plan["name"]] = response.json()
    assert made["Free"]["public"] is True and made["Partner deal"]["public"] is False

    anonymous = gw.proxy_client()
    sections = (await anonymous.get(PORTAL_API + "/sections")).json()["sections"]
    assert {s["path"]: s["signed_in"] for s in sections} == {
        PORTAL_API + "/billing/plans": False, PORTAL_API + "/billing/usage": True,
        PORTAL_API + "/billing/invoices": True, PORTAL_API + "/billing/credits": True,
    }
    shown = (await anonymous.get(PORTAL_API + "/billing/plans")).json()["data"]
    assert sorted(p["name"] for p in shown) == ["Free", "Pro"]
    assert all("tenant_id" not in p and "public" not in p for p in shown)
    assert {p["name"]: p.get("price_per_request") for p in shown}["Pro"] == "0.01"

    alice, key = await consumer(gw, plan_id=made["Pro"]["id"])
    _, bob_key = await consumer(gw, plan_id=made["Pro"]["id"], name="Bob")
    for _ in range(2):
        chat = await gw.proxy_client(key).post("/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
        assert chat.status_code == 200, chat.text
    await gw.settle()

    async def billed() -> bool:  # the worker writes the ledger in the background
        return (await gw.proxy_client(key).get(PORTAL_API + "/billing/usage")).json()["requests"] == 2

    await wait_for(billed)
    usage = (await gw.proxy_client(key).get(PORTAL_API + "/billing/usage")).json()
    assert usage["requests"] == 2 and usage["consumer_id"] == alice and usage["cost"] == "0.02" and "tenant_id" not in usage
    assert (await gw.proxy_client(bob_key).get(PORTAL_API + "/billing/usage")).json()["requests"] == 0
    invoices = (await gw.proxy_client(key).get(PORTAL_API + "/billing/invoices")).json()["data"]
    assert len(invoices) == 2 and invoices[0]["consumer_id"] == alice
    assert set((await gw.proxy_client(key).get(PORTAL_API + "/billing/credits")).json()) == {"balance"}

    for path in ("/billing/usage", "/billing/invoices", "/billing/credits"):
        refused = await gw.proxy_client(gw.api_key).get(PORTAL_API + path)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "consumer_key_required", refused.text
        assert (await anonymous.get(PORTAL_API + path)).status_code == 401


async def test_without_billing_there_are_no_billing_sections(aiproxy_gateway_factory: Any) -> None:
    gw = await aiproxy_gateway_factory()
    assert (await gw.proxy_client().get(PORTAL_API + "/sections")).json()["sections"] == []
    assert (await gw.proxy_client().get(PORTAL_API + "/billing/plans")).status_code == 404
