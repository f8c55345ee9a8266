"""A whole gateway on a real 3-master Redis Cluster (``redis.cluster: true``): the store, the
state API, change events between processes, and plugins that cannot run there."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.cluster import key_slot

from aiproxy_core import GatewayConfig, GatewayServices, RequestContext, hookimpl
from aiproxy_core.errors import PluginLoadError
from aiproxy_core.gateway import Gateway
from aiproxy_core.models import ChainEntry, Rule, Tenant
from aiproxy_core.plugins import PluginRegistry
from aiproxy_core.store.redis_store import RedisStore
from aiproxy_sdk.private_cluster import PrivateCluster
from aiproxy_sdk.redis_space import new_prefix

from .test_processes import assert_revocation_reaches_a_second_process, upstream  # noqa: F401  (the module's upstream fixture)

BASE_DOMAIN = "gw.test"


@pytest.fixture
def cluster_section(aiproxy_redis_cluster: PrivateCluster) -> Iterator[dict[str, Any]]:
    """A ``redis`` config section naming one node of the cluster, under a fresh prefix emptied afterwards.

    Ask for it before ``aiproxy_gateway_factory``, so it is emptied after the gateways closed.
    """
    prefix = new_prefix("aiproxy-gw-cluster")
    node = aiproxy_redis_cluster.startup_node
    yield {"host": node.host, "port": node.port, "cluster": True, "prefix": prefix}
    aiproxy_redis_cluster.drop_prefix(prefix)


class Visits:
    """Counts each tenant's requests with the state API and shows the count."""

    @hookimpl
    async def pre_request(self, ctx: RequestContext) -> None:
        seen = await ctx.services.state("visits").values(ctx.tenant.id).increment("requests", {"n": 1})
        ctx.response_headers["x-visits"] = str(seen["n"])


class OwnRedis:
    """A plugin of the old kind: it keeps state with the gateway's Redis client directly."""

    @hookimpl
    def startup(self, services: GatewayServices) -> None:
        self.redis = services.redis

    @hookimpl
    async def pre_request(self, ctx: RequestContext) -> None:
        return None


async def test_a_gateway_serves_a_tenant_on_the_cluster(cluster_section, aiproxy_gateway_factory, aiproxy_redis_cluster) -> None:
    harness = await aiproxy_gateway_factory(plugins={"visits": Visits()}, chain=[{"name": "visits"}], redis=cluster_section)
    answers = [await harness.chat() for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200], answers[0].text
    assert answers[0].json()["choices"][0]["message"]["content"]  # the mock upstream answered
    assert [a.headers["x-visits"] for a in answers] == ["1", "2", "3"]

    # A second key of the tenant, made over the Admin API, authenticates on the proxy.
    made = await harness.admin.post(f"/api/v1/tenants/{harness.tenant['id']}/keys", headers=harness.tenant_auth, json={})
    assert made.status_code == 201, made.text
    other = harness.proxy_client(made.json()["key"])
    assert (await other.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})).status_code == 200

    # Everything is on the cluster: the store in its one slot, the tenant's state in the tenant's.
    prefix, tenant_id = cluster_section["prefix"], harness.tenant["id"]
    client = aiproxy_redis_cluster.sync_client()
    try:
        names = list(client.scan_iter(match=f"{prefix}:*"))
        store_keys = [n for n in names if n.startswith(f"{prefix}:{{{prefix}:store}}:")]
        state_keys = [n for n in names if ":st:" in n]
        assert client.hexists(f"{prefix}:{{{prefix}:store}}:tenants", tenant_id)
        assert {key_slot(n.encode()) for n in store_keys} == {key_slot(f"{prefix}:store".encode())}
        assert state_keys and {key_slot(n.encode()) for n in state_keys} == {key_slot(tenant_id.encode())}
        assert set(names) == set(store_keys) | set(state_keys)
    finally:
        client.close()


def test_revocation_reaches_a_second_process_on_the_cluster_within_one_second(upstream, cluster_section, tmp_path: Path) -> None:  # noqa: F811
    # ``aiproxy serve`` loads every installed plugin: any that cannot run on a cluster is set
    # aside (it is in no chain) and the gateway serves.
    assert_revocation_reaches_a_second_process({"server": {"base_domain": BASE_DOMAIN}, "redis": cluster_section}, upstream, tmp_path)


async def test_a_rate_limit_is_exact_on_the_cluster_under_concurrent_requests(cluster_section, aiproxy_gateway_factory) -> None:
    from aiproxy_rate_limiter import RateLimiter  # on the state API: it runs on a cluster

    harness = await aiproxy_gateway_factory(
        plugins={"rate_limiter": RateLimiter()},
        chain=[{"name": "rate_limiter", "settings": {"limits": [{"limit": 10, "window": "1m"}]}}],
        redis=cluster_section,
    )
    answers = await asyncio.gather(*(harness.chat() for _ in range(30)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 10 + [429] * 20, statuses


async def test_a_plugin_needing_the_redis_client_is_set_aside_when_in_no_chain(cluster_section, aiproxy_gateway_factory) -> None:
    harness = await aiproxy_gateway_factory(plugins={"own_redis": OwnRedis()}, redis=cluster_section)
    assert (await harness.chat()).status_code == 200
    listed = {p["name"]: p for p in (await harness.admin.get("/api/v1/plugins")).json()["data"]}
    assert "services.redis is not available on a Redis Cluster" in listed["own_redis"]["error"]
    refused = await harness.admin.put(
        f"/api/v1/tenants/{harness.tenant['id']}/rules/{harness.rule['id']}",
        headers=harness.tenant_auth,
        json={"path": "/v1", "target": harness.rule["target"], "plugin_chain": [{"name": "own_redis"}]},
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_plugin"
    assert (await harness.chat()).status_code == 200


async def test_a_plugin_needing_the_redis_client_in_a_saved_chain_stops_the_start(cluster_section) -> None:
    config = GatewayConfig.model_validate({"redis": cluster_section})
    store = RedisStore(config.redis)
    await store.open()
    try:
        now = datetime.now(timezone.utc)
        await store.create_tenant(Tenant(id="acme", name="Acme", subdomain="acme", created_at=now, updated_at=now))
        chain = [ChainEntry(name="own_redis")]
        await store.put_rule(
            Rule(id="r1", tenant_id="acme", path="/v1", target="http://127.0.0.1:9/", plugin_chain=chain, created_at=now, updated_at=now)
        )
    finally:
        await store.close()
    registry = PluginRegistry()
    registry.register(OwnRedis(), "own_redis")
    gateway = Gateway(config, registry=registry)
    with pytest.raises(PluginLoadError, match="own_redis.*cannot run on a Redis Cluster.*in a saved chain"):
        await gateway.start()
    await gateway.store.close()
    await gateway.upstream.close()
