"""Two tenants on ONE gateway and one store (SQLite and Redis): nothing of one reaches the other.

A second tenant on a second gateway with its own SQLite file proves nothing (its store does not
hold the first tenant at all), so both tenants here are made through the same Admin API.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aiproxy_sdk import GatewayHarness


class OtherTenant:
    """A second tenant on a harness's gateway, with its own rule on the same upstream."""

    def __init__(self, gw: GatewayHarness, tenant: dict[str, Any]) -> None:
        self.gw = gw
        self.tenant = tenant
        self.api_key: str = tenant["api_key"]
        self.auth = {"Authorization": f"Bearer {self.api_key}"}
        self.base = f"/api/v1/tenants/{tenant['id']}"

    def proxy(self, api_key: str | None) -> httpx.AsyncClient:
        """A Proxy API client for this tenant's host, sending ``api_key``."""
        client = self.gw.proxy_client(api_key)
        client.base_url = f"http://{self.tenant['subdomain']}.{self.gw.gateway.config.server.base_domain}"
        return client


async def second_tenant(gw: GatewayHarness, upstream: str) -> OtherTenant:
    made = await gw.admin.post("/api/v1/tenants", json={"name": "Beta " + gw.tenant["id"], "subdomain": "b" + gw.tenant["subdomain"]})
    assert made.status_code == 201, made.text
    other = OtherTenant(gw, made.json())
    rule = await gw.admin.post(f"{other.base}/rules", headers=other.auth, json={"path": "/v1", "target": upstream})
    assert rule.status_code == 201, rule.text
    return other


@pytest.fixture
async def gw(aiproxy_gateway_factory, aiproxy_backend):
    return await aiproxy_gateway_factory(redis=aiproxy_backend)


@pytest.fixture
async def beta(gw, aiproxy_mock_upstream) -> OtherTenant:
    return await second_tenant(gw, aiproxy_mock_upstream)


def code_of(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


async def test_keys_work_only_at_their_own_tenant(gw, beta):
    assert (await gw.proxy.post("/v1/echo", json={})).status_code == 200
    assert (await beta.proxy(beta.api_key).post("/v1/echo", json={})).status_code == 200
    # Each key is known to the store, yet refused at the other tenant's host.
    crossed = await gw.proxy_client(beta.api_key).post("/v1/echo", json={})
    assert crossed.status_code == 401 and code_of(crossed) == "invalid_api_key"
    crossed = await beta.proxy(gw.api_key).post("/v1/echo", json={})
    assert crossed.status_code == 401 and code_of(crossed) == "invalid_api_key"


async def test_a_consumers_key_works_only_at_its_own_tenant(gw, beta):
    consumer = (await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/consumers", headers=gw.tenant_auth, json={"name": "Ada"})).json()
    key = (await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/consumers/{consumer['id']}/keys", headers=gw.tenant_auth, json={})).json()
    assert (await gw.proxy_client(key["key"]).post("/v1/echo", json={})).status_code == 200
    crossed = await beta.proxy(key["key"]).post("/v1/echo", json={})
    assert crossed.status_code == 401 and code_of(crossed) == "invalid_api_key"


async def test_rules_of_one_tenant_are_out_of_the_others_reach(gw, beta, aiproxy_mock_upstream):
    mine = f"/api/v1/tenants/{gw.tenant['id']}/rules"
    rule_id = gw.rule["id"]
    body = {"path": "/v1", "target": aiproxy_mock_upstream + "/stolen"}
    # Through the first tenant's URLs, the second tenant's key is not a key of that tenant.
    assert (await gw.admin.get(mine, headers=beta.auth)).status_code == 401
    assert (await gw.admin.get(f"{mine}/{rule_id}", headers=beta.auth)).status_code == 401
    assert (await gw.admin.put(f"{mine}/{rule_id}", headers=beta.auth, json=body)).status_code == 401
    assert (await gw.admin.delete(f"{mine}/{rule_id}", headers=beta.auth)).status_code == 401
    # Through its own URLs, the first tenant's rule id names nothing.
    assert [r["id"] for r in (await gw.admin.get(f"{beta.base}/rules", headers=beta.auth)).json()["data"]] != [rule_id]
    assert (await gw.admin.get(f"{beta.base}/rules/{rule_id}", headers=beta.auth)).status_code == 404
    assert (await gw.admin.put(f"{beta.base}/rules/{rule_id}", headers=beta.auth, json=body)).status_code in (404, 409)
    assert (await gw.admin.delete(f"{beta.base}/rules/{rule_id}", headers=beta.auth)).status_code == 404
    # The first tenant's rule is as it was and still forwards.
    assert (await gw.admin.get(f"{mine}/{rule_id}", headers=gw.tenant_auth)).json() == gw.rule
    assert (await gw.proxy.post("/v1/echo", json={})).json()["path"] == "/v1/echo"


async def test_consumers_and_keys_of_one_tenant_are_out_of_the_others_reach(gw, beta):
    mine = f"/api/v1/tenants/{gw.tenant['id']}"
    consumer = (await gw.admin.post(f"{mine}/consumers", headers=gw.tenant_auth, json={"name": "Ada"})).json()
    key = (await gw.admin.post(f"{mine}/keys", headers=gw.tenant_auth, json={"name": "ci"})).json()
    assert (await gw.admin.get(f"{mine}/consumers", headers=beta.auth)).status_code == 401
    assert (await gw.admin.get(f"{mine}/keys", headers=beta.auth)).status_code == 401
    assert (await gw.admin.get(f"{beta.base}/consumers", headers=beta.auth)).json()["data"] == []
    assert (await gw.admin.get(f"{beta.base}/consumers/{consumer['id']}", headers=beta.auth)).status_code == 404
    assert (await gw.admin.delete(f"{beta.base}/consumers/{consumer['id']}", headers=beta.auth)).status_code == 404
    made = await gw.admin.post(f"{beta.base}/consumers/{consumer['id']}/keys", headers=beta.auth, json={})
    assert made.status_code == 404, made.text
    assert {k["id"] for k in (await gw.admin.get(f"{beta.base}/keys", headers=beta.auth)).json()["data"]} == {beta.tenant["api_key_id"]}
    assert (await gw.admin.delete(f"{beta.base}/keys/{key['id']}", headers=beta.auth)).status_code == 404
    # All of it still there for its own tenant, and the key still works.
    assert (await gw.admin.get(f"{mine}/consumers/{consumer['id']}", headers=gw.tenant_auth)).status_code == 200
    assert (await gw.proxy_client(key["key"]).post("/v1/echo", json={})).status_code == 200


async def test_deleting_one_tenant_leaves_the_other_whole(gw, beta):
    assert (await gw.admin.delete(f"/api/v1/tenants/{gw.tenant['id']}")).status_code == 204
    assert (await gw.proxy.post("/v1/echo", json={})).status_code == 404
    assert (await beta.proxy(beta.api_key).post("/v1/echo", json={})).status_code == 200
    assert len((await gw.admin.get(f"{beta.base}/rules", headers=beta.auth)).json()["data"]) == 1

