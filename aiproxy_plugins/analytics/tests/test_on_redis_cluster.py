"""Analytics through a gateway on a real 3-master Redis Cluster (``redis.cluster: true``): 3
consumers x 120 requests whose upstream latency the mock sets per request, one consumer streaming.

Counts are exact per consumer; p50-p99 of latency (and TTFT for the streamed consumer) are within
the sketch's stated 1 % of the exact percentiles of what the gateway measured, read from its own
kept records (``records.postgresql``: on Redis without it records are not kept). A second tenant
on the same cluster sees only its own requests, and the first tenant's figures are not touched.
"""

from __future__ import annotations

import random
from typing import Any, Iterator

import httpx
import pytest

from aiproxy_sdk import GatewayHarness
from aiproxy_sdk.redis_space import new_prefix

from .test_through_gateway import PROFILES, _records, _send

PER_CONSUMER = 120


@pytest.fixture
def cluster_section(aiproxy_redis_cluster: Any) -> Iterator[dict[str, Any]]:
    """A ``redis`` section naming one node of the session's cluster, under a fresh prefix emptied
    afterwards (asked for before the gateway, so it is emptied after the gateway closed)."""
    prefix = new_prefix("aiproxy-analytics-cluster")
    node = aiproxy_redis_cluster.startup_node
    yield {"host": node.host, "port": node.port, "cluster": True, "prefix": prefix}
    aiproxy_redis_cluster.drop_prefix(prefix)


async def test_counts_percentiles_and_ttft_on_a_cluster(
    cluster_section, aiproxy_redis_cluster, aiproxy_postgresql_url, analytics_gateway, consumer, flush, gather, within_bound
) -> None:
    config = {"server": {"trusted_proxies": ["203.0.113.0/24"]}, "records": {"postgresql": aiproxy_postgresql_url}}
    gw: GatewayHarness = await analytics_gateway(redis=cluster_section, config=config)
    assert gw.gateway.config.redis.cluster
    rng = random.Random(21)
    calls, ids = [], []
    for number, profile in enumerate(PROFILES):
        consumer_id, key = await consumer(gw, f"consumer-{number}")
        ids.append(consumer_id)
        client = gw.proxy_client(api_key=key, timeout=30)
        calls += [_send(client, profile, profile["latency"](rng), i) for i in range(PER_CONSUMER)]
    assert any(profile["stream"] for profile in PROFILES)

    # A second tenant on the same gateway and cluster, with requests of its own.
    other_tenant, other_client = await _second_tenant(gw)
    calls += [_send(other_client, PROFILES[0], 3.0, i) for i in range(7)]
    rng.shuffle(calls)
    assert set(await gather(calls)) == {200}
    await flush(gw)
    # The aggregates are on the cluster, in each tenant's own keys.
    stored = _stored_consumers(aiproxy_redis_cluster, cluster_section["prefix"], gw.tenant["id"])
    assert stored == set(ids)
    assert _stored_consumers(aiproxy_redis_cluster, cluster_section["prefix"], other_tenant["id"]) == {"-"}

    base = f"/api/v1/tenants/{gw.tenant['id']}"
    answer = await gw.admin.get(f"{base}/analytics", params={"interval": "minute", "group_by": "consumer"}, headers=gw.tenant_auth)
    assert answer.status_code == 200, answer.text
    groups = {g["key"]["consumer"]: g for g in answer.json()["groups"]}
    assert set(groups) == set(ids)  # nothing of the other tenant's
    assert {cid: groups[cid]["requests"] for cid in ids} == dict.fromkeys(ids, PER_CONSUMER)
    assert all(groups[cid]["errors"] == 0 for cid in ids)

    records = await _records(gw)
    assert len(records) == 3 * PER_CONSUMER
    for cid, profile in zip(ids, PROFILES):
        mine = [r for r in records if r["consumer_id"] == cid]
        assert len(mine) == PER_CONSUMER
        within_bound(groups[cid]["latency_ms"], [r["latency_ms"] for r in mine], 0.01)
        if profile["stream"]:
            within_bound(groups[cid]["ttft_ms"], [r["ttft_ms"] for r in mine], 0.01)
            assert groups[cid]["ttft_ms"]["p50"] >= 5 * 0.99
        else:
            assert groups[cid]["ttft_ms"]["p50"] is None

    # The per-consumer view reads the same keys on the cluster.
    own = (await gw.admin.get(f"{base}/consumers/{ids[2]}/analytics", params={"interval": "minute"}, headers=gw.tenant_auth)).json()
    assert [g["key"] for g in own["groups"]] == [{"consumer": ids[2]}]
    assert own["groups"][0]["latency_ms"] == groups[ids[2]]["latency_ms"]
    assert own["groups"][0]["ttft_ms"] == groups[ids[2]]["ttft_ms"]

    # The second tenant's analytics hold its own 7 requests only (its tenant key: no consumer).
    other_auth = {"Authorization": f"Bearer {other_tenant['api_key']}"}
    theirs = await gw.admin.get(f"/api/v1/tenants/{other_tenant['id']}/analytics", params={"interval": "minute"}, headers=other_auth)
    assert theirs.status_code == 200, theirs.text
    assert [(g["key"], g["requests"]) for g in theirs.json()["groups"]] == [({}, 7)]
    mine_all = (await gw.admin.get(f"{base}/analytics", params={"interval": "minute"}, headers=gw.tenant_auth)).json()
    assert [(g["key"], g["requests"]) for g in mine_all["groups"]] == [({}, 3 * PER_CONSUMER)]
    # Neither tenant's key reads the other's analytics.
    refused = await gw.admin.get(f"/api/v1/tenants/{other_tenant['id']}/analytics", params={"interval": "minute"}, headers=gw.tenant_auth)
    assert refused.status_code == 401, refused.text


def _stored_consumers(cluster: Any, prefix: str, tenant_id: str) -> set[str]:
    """The consumer groups of the tenant's per-minute aggregates stored on the cluster (``-``: none)."""
    client = cluster.sync_client()
    try:
        names = client.scan_iter(match=f"{prefix}:st:{{{tenant_id}}}:analytics:v:minute:consumer:*")
        return {name.rsplit(":", 2)[1] for name in names}
    finally:
        client.close()


async def _second_tenant(gw: GatewayHarness) -> tuple[dict[str, Any], httpx.AsyncClient]:
    """A second tenant of the gateway with a rule through analytics, and a Proxy API client of it."""
    subdomain = "t2" + random.Random().randbytes(5).hex()
    made = await gw.admin.post("/api/v1/tenants", json={"name": subdomain, "subdomain": subdomain})
    assert made.status_code == 201, made.text
    tenant = made.json()
    auth = {"Authorization": f"Bearer {tenant['api_key']}"}
    rule = await gw.admin.post(
        f"/api/v1/tenants/{tenant['id']}/rules", headers=auth, json={"path": "/v1", "target": gw.rule["target"], "plugin_chain": [{"name": "analytics"}]}
    )
    assert rule.status_code == 201, rule.text
    host = f"{subdomain}.{gw.gateway.config.server.base_domain}"
    return tenant, gw.proxy_client(api_key=tenant["api_key"], timeout=30, headers={"Host": host})
