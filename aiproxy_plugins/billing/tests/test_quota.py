"""Free-plan quotas on both backends: 429 (or 402) past the quota, exact under concurrency."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any


async def free_plan(gw: Any, quota: int, status: int = 429) -> str:
    made = await gw.admin.post(
        f"/api/v1/tenants/{gw.tenant['id']}/plans",
        json={"name": "Free", "type": "free", "quota": quota, "period": "day", "over_quota_status": status},
        headers=gw.tenant_auth,
    )
    assert made.status_code == 201, made.text
    return made.json()["id"]


async def test_past_the_quota_requests_get_429_with_retry_after(billing_gateway: Any, consumer: Any) -> None:
    gw = await billing_gateway()
    _, key = await consumer(gw, await free_plan(gw, 3))
    client = gw.proxy_client(key)
    body = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}
    statuses = [(await client.post("/v1/chat/completions", json=body)) for _ in range(5)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
    refused = statuses[-1]
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 86401
    # Another consumer on the same plan has its own quota.
    _, other = await consumer(gw, (await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/plans", headers=gw.tenant_auth)).json()["data"][0]["id"], "Bob")
    assert (await gw.proxy_client(other).post("/v1/chat/completions", json=body)).status_code == 200


async def test_a_plan_may_answer_402_instead(billing_gateway: Any, consumer: Any) -> None:
    gw = await billing_gateway()
    _, key = await consumer(gw, await free_plan(gw, 1, 402))
    client = gw.proxy_client(key)
    body = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}
    assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
    refused = await client.post("/v1/chat/completions", json=body)
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "quota_exceeded"


async def test_concurrent_requests_never_overshoot_the_quota(billing_gateway: Any, consumer: Any, plugin_of: Any, wait_for: Any) -> None:
    gw = await billing_gateway()
    consumer_id, key = await consumer(gw, await free_plan(gw, 5))
    client = gw.proxy_client(key)
    body = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}
    responses = await asyncio.gather(*(client.post("/v1/chat/completions", json=body) for _ in range(30)))
    assert Counter(r.status_code for r in responses) == {200: 5, 429: 25}
    ledger = plugin_of(gw).backend().ledger

    async def billed() -> bool:
        return await ledger.count(gw.tenant["id"]) == 5

    await wait_for(billed)  # refused requests are not billed
