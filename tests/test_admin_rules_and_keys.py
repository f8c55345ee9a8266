"""Rules and tenant keys over the Admin API: tenant-key auth, conflicts, revocation."""

from __future__ import annotations

import pytest


@pytest.fixture
async def gw(aiproxy_gateway_factory, aiproxy_backend):
    return await aiproxy_gateway_factory(redis=aiproxy_backend)


def rules_url(gw) -> str:
    return f"/api/v1/tenants/{gw.tenant['id']}/rules"


async def test_rule_crud(gw, aiproxy_mock_upstream):
    body = {"path": "/v2/embeddings", "target": aiproxy_mock_upstream, "methods": ["post"]}
    created = await gw.admin.post(rules_url(gw), headers=gw.tenant_auth, json=body)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["methods"] == ["POST"] and rule["strip_path"] is False and rule["plugin_chain"] == []
    listed = (await gw.admin.get(rules_url(gw), headers=gw.tenant_auth)).json()["data"]
    assert {r["id"] for r in listed} == {gw.rule["id"], rule["id"]}
    replaced = await gw.admin.put(f"{rules_url(gw)}/{rule['id']}", headers=gw.tenant_auth, json={**body, "methods": ["GET"]})
    assert replaced.status_code == 200 and replaced.json()["methods"] == ["GET"]
    assert replaced.json()["created_at"] == rule["created_at"]
    assert (await gw.admin.get(f"{rules_url(gw)}/{rule['id']}", headers=gw.tenant_auth)).json()["methods"] == ["GET"]
    assert (await gw.admin.delete(f"{rules_url(gw)}/{rule['id']}", headers=gw.tenant_auth)).status_code == 204
    missing = await gw.admin.get(f"{rules_url(gw)}/{rule['id']}", headers=gw.tenant_auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "rule_not_found"


async def test_rules_need_a_key_of_that_tenant(gw):
    # The other tenant lives in the same store, so its key is a real key, just not of this tenant.
    other_key = (await gw.admin.post("/api/v1/tenants", json={"name": "Other", "subdomain": "o" + gw.tenant["subdomain"]})).json()["api_key"]
    no_key = await gw.admin.get(rules_url(gw))
    assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "missing_api_key"
    foreign = await gw.admin.get(rules_url(gw), headers={"Authorization": f"Bearer {other_key}"})
    assert foreign.status_code == 401
    # 401 comes before 404, so tenant ids cannot be probed without a key.
    assert (await gw.admin.get("/api/v1/tenants/tnt_missing/rules")).status_code == 401


async def test_bad_rules_are_refused_and_change_nothing(gw):
    before = (await gw.admin.get(rules_url(gw), headers=gw.tenant_auth)).json()
    cases = [
        ({"path": "no-slash", "target": "http://x"}, 422, "path"),
        ({"path": "/a", "target": "not a url"}, 422, "target"),
        ({"path": "/a", "target": "http://x", "methods": ["FETCH"]}, 422, "methods"),
        ({"path": "/a", "target": "http://x", "plugin_chain": [{"name": "ghost"}]}, 422, "plugin_chain.0.name"),
        ({"path": "/a", "target": "http://x", "plugin_chain": [{"priority": 1}]}, 422, "plugin_chain.0.name"),
        ({"path": "/a", "target": "http://x", "timeout": -1}, 422, "timeout"),
        ({"path": "/v1", "target": "http://x"}, 409, None),
    ]
    for body, status, field in cases:
        response = await gw.admin.post(rules_url(gw), headers=gw.tenant_auth, json=body)
        assert response.status_code == status, (body, response.text)
        if field:
            assert field in response.json()["error"]["message"], response.text
    assert (await gw.admin.get(rules_url(gw), headers=gw.tenant_auth)).json() == before


async def test_enabled_plugins_limit_what_rules_may_use(aiproxy_gateway_factory, plugin_maker):
    plugins = {"a": plugin_maker("a", pre_request=lambda ctx: None), "b": plugin_maker("b", pre_request=lambda ctx: None)}
    gw = await aiproxy_gateway_factory(plugins=plugins, tenant={"enabled_plugins": ["a"]})
    ok = await gw.admin.post(rules_url(gw), headers=gw.tenant_auth, json={"path": "/a", "target": "http://x", "plugin_chain": [{"name": "a"}]})
    assert ok.status_code == 201
    refused = await gw.admin.post(rules_url(gw), headers=gw.tenant_auth, json={"path": "/b", "target": "http://x", "plugin_chain": [{"name": "b"}]})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "plugin_not_enabled"


async def test_tenant_keys_are_shown_once_listed_by_prefix_and_revocable(gw):
    keys_url = f"/api/v1/tenants/{gw.tenant['id']}/keys"
    created = await gw.admin.post(keys_url, headers=gw.tenant_auth, json={"name": "ci"})
    assert created.status_code == 201
    key = created.json()
    assert key["key"].startswith(key["prefix"]) and len(key["prefix"]) < len(key["key"]) and "hash" not in key
    listed = (await gw.admin.get(keys_url, headers=gw.tenant_auth)).json()["data"]
    assert {k["id"] for k in listed} == {gw.tenant["api_key_id"], key["id"]}
    assert all("key" not in k and "hash" not in k for k in listed)
    assert gw.api_key not in str(listed) and key["key"] not in str(listed)

    new_client = gw.proxy_client(key["key"])
    assert (await new_client.post("/v1/echo", json={})).status_code == 200
    assert (await gw.admin.delete(f"{keys_url}/{key['id']}", headers=gw.tenant_auth)).status_code == 204
    revoked = await new_client.post("/v1/echo", json={})
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "revoked_api_key"
    assert (await gw.admin.delete(f"{keys_url}/key_missing", headers=gw.tenant_auth)).status_code == 404


async def test_expired_keys_are_refused(gw):
    keys_url = f"/api/v1/tenants/{gw.tenant['id']}/keys"
    key = (await gw.admin.post(keys_url, headers=gw.tenant_auth, json={"expires_at": "2000-01-01T00:00:00Z"})).json()
    response = await gw.proxy_client(key["key"]).post("/v1/echo", json={})
    assert response.status_code == 401 and response.json()["error"]["code"] == "expired_api_key"
    naive = await gw.admin.post(keys_url, headers=gw.tenant_auth, json={"expires_at": "2030-01-01T00:00:00"})
    assert naive.status_code == 422


async def test_deleting_a_tenant_removes_its_rules_and_keys(gw):
    assert (await gw.admin.delete(f"/api/v1/tenants/{gw.tenant['id']}")).status_code == 204
    assert (await gw.proxy.post("/v1/echo", json={})).status_code == 404
    assert await gw.gateway.store.list_rules(gw.tenant["id"]) == []
    assert await gw.gateway.store.list_keys(gw.tenant["id"]) == []


async def test_upstream_headers_reach_the_origin_and_their_secrets_are_write_only(gw, aiproxy_mock_upstream):
    secret = "Bearer sk-origin-0123456789abcd"
    body = {
        "path": "/echo", "target": aiproxy_mock_upstream, "strip_path": True,
        "upstream_headers": {"Authorization": secret, "X-Api-Key": "key-short", "X-Team": "blue"},
    }
    created = await gw.admin.post(rules_url(gw), headers=gw.tenant_auth, json=body)
    assert created.status_code == 201, created.text
    shown = {"Authorization": "****abcd", "X-Api-Key": "****", "X-Team": "blue"}
    assert created.json()["upstream_headers"] == shown
    url = f"{rules_url(gw)}/{created.json()['id']}"
    fetched = (await gw.admin.get(url, headers=gw.tenant_auth)).json()
    assert fetched["upstream_headers"] == shown
    listed = (await gw.admin.get(rules_url(gw), headers=gw.tenant_auth)).json()["data"]
    assert [r["upstream_headers"] for r in listed if r["id"] == fetched["id"]] == [shown]

    async def forwarded() -> dict:
        echoed = await gw.proxy_client(gw.tenant["api_key"]).post("/echo/anything", json={})
        assert echoed.status_code == 200, echoed.text
        return echoed.json()["headers"]

    headers = await forwarded()
    assert headers["authorization"] == secret and headers["x-api-key"] == "key-short" and headers["x-team"] == "blue"
    assert gw.tenant["api_key"] not in str(headers)  # the gateway key never reaches the origin

    # Read, change something else, send back: the masked secrets stay what they were.
    sent_back = {k: fetched[k] for k in ("path", "target", "strip_path", "upstream_headers")} | {"timeout": 30}
    replaced = await gw.admin.put(url, headers=gw.tenant_auth, json=sent_back)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["upstream_headers"] == shown and replaced.json()["timeout"] == 30
    assert (await forwarded())["authorization"] == secret

    # A masked value that masks nothing stored is refused, and nothing changes.
    for bad in ({"Authorization": "****wxyz"}, {"X-Other-Token": "****"}):
        refused = await gw.admin.put(url, headers=gw.tenant_auth, json={**sent_back, "upstream_headers": bad})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "masked_secret", refused.text
    refused = await gw.admin.post(rules_url(gw), headers=gw.tenant_auth, json={**body, "path": "/echo2", "upstream_headers": {"Authorization": "****abcd"}})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "masked_secret"
    assert (await forwarded())["authorization"] == secret
    assert (await gw.admin.get(url, headers=gw.tenant_auth)).json() == replaced.json()
