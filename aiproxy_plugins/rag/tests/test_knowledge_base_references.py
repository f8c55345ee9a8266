"""A rule may name only its own tenant's knowledge base: both tenants on one gateway, on each store."""

from __future__ import annotations

from typing import Any

import httpx

from aiproxy_sdk import GatewayHarness

MISSING = "kb_0123456789abcdef"


async def second_tenant(gateway: GatewayHarness) -> tuple[dict[str, Any], dict[str, str]]:
    made = await gateway.admin.post("/api/v1/tenants", json={"name": "Other", "subdomain": "other-tenant"})
    assert made.status_code == 201, made.text
    tenant = made.json()
    return tenant, {"Authorization": f"Bearer {tenant['api_key']}"}


async def save_rule(gateway: GatewayHarness, tenant: dict[str, Any], auth: dict[str, str], kb: str) -> httpx.Response:
    body = {"path": "/rag", "target": gateway.rule["target"], "plugin_chain": [{"name": "rag", "settings": {"knowledge_base": kb}}]}
    return await gateway.admin.post(f"/api/v1/tenants/{tenant['id']}/rules", json=body, headers=auth)


async def test_a_rule_naming_another_tenants_knowledge_base_is_refused(rag_gateway: Any, knowledge: Any, aiproxy_backend: Any) -> None:
    gateway = await rag_gateway(redis=aiproxy_backend)
    theirs = (await knowledge(gateway).create(name="private handbook"))["id"]
    other, other_auth = await second_tenant(gateway)

    refused = await save_rule(gateway, other, other_auth, theirs)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "reference_not_found"
    assert error["details"] == [
        {"field": "plugin_chain.0.settings.knowledge_base", "plugin": "rag", "message": f"tenant {other['id']} has no knowledge base {theirs!r}"}
    ]
    # Exactly what an id that exists nowhere gets: nothing tells the tenant the base exists elsewhere.
    missing = await save_rule(gateway, other, other_auth, MISSING)
    assert missing.status_code == 422
    assert missing.json()["error"]["message"].replace(MISSING, theirs) == error["message"]
    assert gateway.tenant["id"] not in refused.text and "private handbook" not in refused.text
    assert await gateway.gateway.store.list_rules(other["id"]) == []

    # Nor through a tenant's required plugins.
    patched = await gateway.admin.patch(
        f"/api/v1/tenants/{other['id']}", json={"required_plugins": {"rag": {"settings": {"knowledge_base": theirs}}}}
    )
    assert patched.status_code == 422, patched.text
    assert patched.json()["error"]["details"][0]["field"] == "required_plugins.rag.settings.knowledge_base"
    assert (await gateway.gateway.store.get_tenant(other["id"])).required_plugins == {}

    # The owner may, and so may the other tenant with a base of its own.
    assert (await save_rule(gateway, gateway.tenant, gateway.tenant_auth, theirs)).status_code == 201
    own = (await gateway.admin.post(f"/api/v1/tenants/{other['id']}/knowledge-bases", json={"name": "mine"}, headers=other_auth)).json()
    assert (await save_rule(gateway, other, other_auth, own["id"])).status_code == 201


async def test_replacing_a_rule_with_another_tenants_base_keeps_the_stored_chain(
    rag_gateway: Any, knowledge: Any, aiproxy_backend: Any
) -> None:
    gateway = await rag_gateway(redis=aiproxy_backend)
    other, other_auth = await second_tenant(gateway)
    theirs = (await gateway.admin.post(f"/api/v1/tenants/{other['id']}/knowledge-bases", json={"name": "b"}, headers=other_auth)).json()
    body = {k: v for k, v in gateway.rule.items() if k not in {"id", "tenant_id", "created_at", "updated_at"}}
    body["plugin_chain"] = [{"name": "rag", "settings": {"knowledge_base": theirs["id"]}}]
    url = f"/api/v1/tenants/{gateway.tenant['id']}/rules/{gateway.rule['id']}"
    refused = await gateway.admin.put(url, json=body, headers=gateway.tenant_auth)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "reference_not_found"
    assert (await gateway.gateway.store.get_rule(gateway.tenant["id"], gateway.rule["id"])).plugin_chain == []
