"""Errors by status class and cut-off streams, on Redis in process: what the client saw as an
error counts as one, and every stored key carries its interval's retention as a TTL."""

from __future__ import annotations

from typing import Any

import redis

from aiproxy_sdk import GatewayHarness


async def test_status_classes_interruptions_and_ttls(analytics_gateway, flush, aiproxy_redis_prefix: str) -> None:
    section: dict[str, Any] = {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix}
    gw: GatewayHarness = await analytics_gateway(redis=section, retention={"minute": 600, "hour": 7200, "day": 86400})
    for _ in range(3):
        assert (await gw.chat()).status_code == 200
    for status in ("429", "503"):
        assert (await gw.chat(headers={"X-Mock-Status": status})).status_code == int(status)
    async with gw.proxy.stream("POST", "/v1/chat/completions", headers={"X-Mock-Fault": "close-mid-stream"},
                               json={"model": "mock-model", "messages": [{"role": "user", "content": "hi"}], "stream": True}) as cut:
        await cut.aread()
    await flush(gw)

    answer = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/analytics", params={"interval": "minute", "group_by": "status"},
                                headers=gw.tenant_auth)
    groups = {g["key"]["status"]: g for g in answer.json()["groups"]}
    assert {status: (g["requests"], g["errors"]) for status, g in groups.items()} == {"2xx": (4, 1), "4xx": (1, 1), "5xx": (1, 1)}
    assert groups["2xx"]["interrupted"] == 1

    client = redis.Redis(decode_responses=True)
    try:
        for interval, retention, width in (("minute", 600, 60), ("hour", 7200, 3600), ("day", 86400, 86400)):
            keys = client.keys(f"{aiproxy_redis_prefix}:*analytics:v:{interval}:*")
            assert keys
            # The retention plus the bucket's own width: a bucket is kept that long after it ends.
            assert all(retention < client.ttl(key) <= retention + width for key in keys)
    finally:
        client.close()
