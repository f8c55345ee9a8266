"""A billing entry's ``plan_id`` must be its own tenant's plan: both tenants on one gateway, on each store."""

from __future__ import annotations

from typing import Any

PLAN = {"name": "Calls", "type": "pay_per_call", "price_per_request": "0.002"}


async def test_a_rule_naming_another_tenants_plan_is_refused(billing_gateway: Any) -> None:
    gw = await billing_gateway()
    theirs = (await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/plans", json=PLAN, headers=gw.tenant_auth)).json()["id"]
    made = await gw.admin.post("/api/v1/tenants", json={"name": "Other", "subdomain": "other-tenant"})
    assert made.status_code == 201, made.text
    other = made.json()
    other_auth = {"Authorization": f"Bearer {other['api_key']}"}
    rules = f"/api/v1/tenants/{other['id']}/rules"

    def body(plan_id: str) -> dict[str, Any]:
        return {"path": "/v1", "target": gw.rule["target"], "plugin_chain": [{"name": "billing", "settings": {"plan_id": plan_id}}]}

    refused = await gw.admin.post(rules, json=body(theirs), headers=other_auth)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "reference_not_found"
    assert error["details"] == [
        {"field": "plugin_chain.0.settings.plan_id", "plugin": "billing", "message": f"tenant {other['id']} has no plan {theirs!r}"}
    ]
    nowhere = await gw.admin.post(rules, json=body("plan_0000000000000000"), headers=other_auth)
    assert nowhere.json()["error"]["message"].replace("plan_0000000000000000", theirs) == error["message"]
    assert gw.tenant["id"] not in refused.text
    assert await gw.gateway.store.list_rules(other["id"]) == []

    required = {"required_plugins": {"billing": {"settings": {"plan_id": theirs}}}}
    patched = await gw.admin.patch(f"/api/v1/tenants/{other['id']}", json=required)
    assert patched.status_code == 422, patched.text
    assert patched.json()["error"]["details"][0]["field"] == "required_plugins.billing.settings.plan_id"
    assert (await gw.gateway.store.get_tenant(other["id"])).required_plugins == {}

    # The owner may name it; the other tenant may name a plan of its own.
    own_rule = dict(body(theirs), path="/v2")
    assert (await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/rules", json=own_rule, headers=gw.tenant_auth)).status_code == 201
    mine = (await gw.admin.post(f"/api/v1/tenants/{other['id']}/plans", json=PLAN, headers=other_auth)).json()["id"]
    assert (await gw.admin.post(rules, json=body(mine), headers=other_auth)).status_code == 201
