"""Consumers and their keys: created over the Admin API, used at the Proxy API like tenant keys."""

from __future__ import annotations

import asyncio

import pytest


@pytest.fixture
async def gw(aiproxy_gateway_factory, aiproxy_backend):
    return await aiproxy_gateway_factory(redis=aiproxy_backend)


def consumers_url(gw) -> str:
    return f"/api/v1/tenants/{gw.tenant['id']}/consumers"


async def new_consumer(gw, **body) -> dict:
    created = await gw.admin.post(consumers_url(gw), headers=gw.tenant_auth, json={"name": "Ada", "plan_id": "plan_pro", **body})
    assert created.status_code == 201, created.text
    return created.json()


async def new_key(gw, consumer: dict, **body) -> dict:
    made = await gw.admin.post(f"{consumers_url(gw)}/{consumer['id']}/keys", headers=gw.tenant_auth, json=body or None)
    assert made.status_code == 201, made.text
    return made.json()


async def test_consumer_crud(gw):
    consumer = await new_consumer(gw, metadata={"crm": "42"})
    assert consumer["id"].startswith("con_") and consumer["plan_id"] == "plan_pro"
    listed = (await gw.admin.get(consumers_url(gw), headers=gw.tenant_auth)).json()["data"]
    assert [c["id"] for c in listed] == [consumer["id"]]
    patched = await gw.admin.patch(f"{consumers_url(gw)}/{consumer['id']}", headers=gw.tenant_auth, json={"plan_id": "plan_free"})
    assert patched.status_code == 200 and patched.json()["plan_id"] == "plan_free" and patched.json()["name"] == "Ada"
    bad = await gw.admin.patch(f"{consumers_url(gw)}/{consumer['id']}", headers=gw.tenant_auth, json={"name": ""})
    assert bad.status_code == 422
    assert (await gw.admin.get(f"{consumers_url(gw)}/{consumer['id']}", headers=gw.tenant_auth)).json()["plan_id"] == "plan_free"
    assert (await gw.admin.delete(f"{consumers_url(gw)}/{consumer['id']}", headers=gw.tenant_auth)).status_code == 204
    missing = await gw.admin.get(f"{consumers_url(gw)}/{consumer['id']}", headers=gw.tenant_auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "consumer_not_found"


async def test_bad_consumer_bodies_change_nothing(gw):
    for body in ({}, {"name": 5}, {"name": "x", "extra": 1}, {"name": "x", "plan_id": ""}):
        response = await gw.admin.post(consumers_url(gw), headers=gw.tenant_auth, json=body)
        assert response.status_code == 422, (body, response.text)
    assert (await gw.admin.get(consumers_url(gw), headers=gw.tenant_auth)).json()["data"] == []


async def test_a_consumer_key_works_at_the_proxy_and_carries_the_consumer(plugin_maker, aiproxy_gateway_factory, aiproxy_backend):
    seen = []
    spy = plugin_maker("spy", pre_request=lambda ctx: seen.append((ctx.consumer_id, ctx.consumer.plan_id if ctx.consumer else None)))
    gw = await aiproxy_gateway_factory(plugins={"spy": spy}, chain=[{"name": "spy"}], redis=aiproxy_backend)
    consumer = await new_consumer(gw)
    key = await new_key(gw, consumer)
    assert set(key) >= {"id", "key", "prefix"} and key["key"].startswith(key["prefix"])
    response = await gw.proxy_client(key["key"]).post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
    assert seen == [(consumer["id"], "plan_pro")]
    listed = (await gw.admin.get(f"{consumers_url(gw)}/{consumer['id']}/keys", headers=gw.tenant_auth)).json()["data"]
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0] and "hash" not in listed[0]
    # A consumer's keys are not the tenant's own keys, and cannot manage the tenant.
    tenant_keys = (await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/keys", headers=gw.tenant_auth)).json()["data"]
    assert key["id"] not in [k["id"] for k in tenant_keys]
    forbidden = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/rules", headers={"Authorization": f"Bearer {key['key']}"})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "consumer_key_not_allowed"


async def test_revoking_and_deleting_end_a_consumer_key(gw):
    consumer = await new_consumer(gw)
    first, second = await new_key(gw, consumer), await new_key(gw, consumer)
    client = gw.proxy_client(first["key"])
    assert (await client.post("/v1/echo", json={})).status_code == 200
    revoked = await gw.admin.delete(f"{consumers_url(gw)}/{consumer['id']}/keys/{first['id']}", headers=gw.tenant_auth)
    assert revoked.status_code == 204
    assert (await client.post("/v1/echo", json={})).json()["error"]["code"] == "revoked_api_key"
    other = gw.proxy_client(second["key"])
    assert (await other.post("/v1/echo", json={})).status_code == 200
    await gw.admin.delete(f"{consumers_url(gw)}/{consumer['id']}", headers=gw.tenant_auth)
    assert (await other.post("/v1/echo", json={})).status_code == 401


async def test_rotation_with_a_grace_period_keeps_both_keys_working_until_it_ends(gw):
    consumer = await new_consumer(gw)
    old = await new_key(gw, consumer, name="prod")
    rotated = await gw.admin.post(
        f"{consumers_url(gw)}/{consumer['id']}/keys/{old['id']}/rotate", headers=gw.tenant_auth, json={"grace_seconds": 1}
    )
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["key"] != old["key"] and new["name"] == "prod"
    old_client, new_client = gw.proxy_client(old["key"]), gw.proxy_client(new["key"])
    assert (await old_client.post("/v1/echo", json={})).status_code == 200
    assert (await new_client.post("/v1/echo", json={})).status_code == 200
    listed = {k["id"]: k for k in (await gw.admin.get(f"{consumers_url(gw)}/{consumer['id']}/keys", headers=gw.tenant_auth)).json()["data"]}
    assert listed[old["id"]]["replaced_by"] == new["id"] and listed[old["id"]]["expires_at"]
    await asyncio.sleep(1.1)
    expired = await old_client.post("/v1/echo", json={})
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "expired_api_key"
    assert (await new_client.post("/v1/echo", json={})).status_code == 200


async def test_rotation_without_grace_ends_the_old_key_at_once(gw):
    old = (await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/keys", headers=gw.tenant_auth, json={})).json()
    rotated = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/keys/{old['id']}/rotate", headers=gw.tenant_auth)
    assert rotated.status_code == 201
    assert (await gw.proxy_client(old["key"]).post("/v1/echo", json={})).json()["error"]["code"] == "revoked_api_key"
    assert (await gw.proxy_client(rotated.json()["key"]).post("/v1/echo", json={})).status_code == 200
    again = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/keys/{old['id']}/rotate", headers=gw.tenant_auth)
    assert again.status_code == 422 and again.json()["error"]["code"] == "key_not_live"


async def test_scopes_limit_a_key_to_some_rules(gw, aiproxy_mock_upstream):
    other_rule = (
        await gw.admin.post(
            f"/api/v1/tenants/{gw.tenant['id']}/rules", headers=gw.tenant_auth, json={"path": "/v2", "target": aiproxy_mock_upstream}
        )
    ).json()
    consumer = await new_consumer(gw)
    scoped = await new_key(gw, consumer, scopes=[other_rule["id"]])
    client = gw.proxy_client(scoped["key"])
    assert (await client.post("/v2/echo", json={})).status_code == 200
    denied = await client.post("/v1/echo", json={})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "key_scope_denied"
    unknown = await gw.admin.post(f"{consumers_url(gw)}/{consumer['id']}/keys", headers=gw.tenant_auth, json={"scopes": ["rul_nope"]})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_scope"


async def test_consumers_are_private_to_their_tenant(gw):
    # The other tenant lives in the same store (a second gateway's own file would not hold the consumer).
    other = (await gw.admin.post("/api/v1/tenants", json={"name": "Other", "subdomain": "o" + gw.tenant["subdomain"]})).json()
    other_auth = {"Authorization": f"Bearer {other['api_key']}"}
    consumer = await new_consumer(gw)
    foreign = await gw.admin.get(f"/api/v1/tenants/{other['id']}/consumers/{consumer['id']}", headers=other_auth)
    assert foreign.status_code == 404
    peek = await gw.admin.get(f"{consumers_url(gw)}/{consumer['id']}", headers=other_auth)
    assert peek.status_code == 401
