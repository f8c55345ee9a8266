"""The Proxy API's reserved ``/-/`` prefix: the tenant's own pages, before any key or rule."""

from __future__ import annotations

import httpx


async def test_the_prefix_needs_no_key_and_names_the_tenant(aiproxy_gateway):
    anonymous = aiproxy_gateway.proxy_client()
    response = await anonymous.get("/-/")
    assert response.status_code == 200
    assert response.json()["tenant"]["subdomain"] == aiproxy_gateway.tenant["subdomain"]
    missing = await anonymous.get("/-/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found" and missing.json()["error"]["request_id"]


async def test_an_unknown_tenant_has_no_pages(aiproxy_gateway):
    stranger = httpx.AsyncClient(transport=httpx.ASGITransport(app=aiproxy_gateway.gateway.proxy_app), base_url="http://nobody.gateway.test")
    async with stranger:
        response = await stranger.get("/-/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "tenant_not_found"


async def test_no_rule_may_claim_the_prefix_and_a_root_rule_does_not_shadow_it(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(rule={"path": "/"})
    rules = f"/api/v1/tenants/{gw.tenant['id']}/rules"
    for path in ("/-", "/-/portal", "/-/openapi.json"):
        refused = await gw.admin.post(rules, headers=gw.tenant_auth, json={"path": path, "target": "http://127.0.0.1:9/"})
        assert refused.status_code == 422, refused.text
        assert "/-/" in refused.json()["error"]["message"]
    # A rule on "/" forwards everything else, but never the tenant's pages.
    assert (await gw.proxy_client().get("/-/")).status_code == 200
    assert (await gw.chat()).status_code == 200
    assert len((await gw.admin.get(rules, headers=gw.tenant_auth)).json()["data"]) == 1


async def test_dot_segments_do_not_turn_a_page_into_an_upstream_request(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(rule={"path": "/"})
    response = await gw.proxy_client().get("/v1/../-/")
    assert response.status_code == 200 and "pages" in response.json()
