"""One limit shared by two real gateway processes admits exactly its size, no more: on one Redis
server and on a real 3-master Redis Cluster."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any, Iterator

import httpx
import pytest

from aiproxy_sdk import GatewayProcess
from aiproxy_sdk.redis_space import new_prefix

LIMIT = 100
REQUESTS = 300


@pytest.fixture(params=["redis", "cluster"])
def shared_redis(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``redis`` config section both gateways share: one server, or any node of a cluster."""
    if request.param == "redis":
        return {"host": "127.0.0.1", "port": 6379, "prefix": request.getfixturevalue("redis_prefix")}
    cluster = request.getfixturevalue("aiproxy_redis_cluster")
    prefix = new_prefix("aiproxy-rl-cluster")
    request.addfinalizer(lambda: cluster.drop_prefix(prefix))
    node = cluster.startup_node
    return {"host": node.host, "port": node.port, "cluster": True, "prefix": prefix}


@pytest.fixture
def two_gateways(shared_redis: dict[str, Any]) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    config = {"redis": shared_redis, "server": {"base_domain": "gw.test"}}
    first, second = GatewayProcess(config), GatewayProcess(config)
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()


async def test_two_processes_admit_exactly_the_limit_together(
    two_gateways: tuple[GatewayProcess, GatewayProcess], aiproxy_mock_upstream: str
) -> None:
    first, second = two_gateways
    # The default sliding counter is exact within one aligned minute (the test's own clock is
    # Redis's: the same host); a burst across a boundary would meet the weighted last minute.
    if time.time() % 60 > 40:
        await asyncio.sleep(60.5 - time.time() % 60)
    subdomain = "rl" + uuid.uuid4().hex[:10]
    async with httpx.AsyncClient(base_url=first.admin_url, timeout=30) as admin:
        made = await admin.post("/api/v1/tenants", json={"name": f"Tenant {subdomain}", "subdomain": subdomain})
        assert made.status_code == 201, made.text
        tenant = made.json()
        auth = {"Authorization": f"Bearer {tenant['api_key']}"}
        rule = await admin.post(
            f"/api/v1/tenants/{tenant['id']}/rules",
            headers=auth,
            json={
                "path": "/v1",
                "target": aiproxy_mock_upstream,
                "plugin_chain": [{"name": "rate_limiter", "settings": {"limit": LIMIT, "window": "1m"}}],
            },
        )
        assert rule.status_code == 201, rule.text

    headers = {**auth, "Host": f"{subdomain}.gw.test"}
    body = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}
    pool = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    async with httpx.AsyncClient(timeout=60, limits=pool) as client:
        urls = [first.proxy_url, second.proxy_url]
        # No warm-up: the burst meets cold caches in both processes, as after a deploy.
        responses = await asyncio.gather(
            *(client.post(f"{urls[i % 2]}/v1/chat/completions", headers=headers, json=body) for i in range(REQUESTS))
        )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: LIMIT, 429: REQUESTS - LIMIT}, first.log.read_text()[-3000:] + second.log.read_text()[-3000:]
    # Each process answered its 150 requests, more than the limit: had each counted alone, each
    # would have admitted 100. Which one admitted how many depends on scheduling, not asserted.
    answered_by = Counter(str(r.url).split("/v1/")[0] for r in responses if r.status_code in (200, 429))
    assert sorted(answered_by.values()) == [REQUESTS // 2, REQUESTS // 2]
    assert all("retry-after" in r.headers for r in responses if r.status_code == 429)
