"""Free-plan quotas on both backends: 429 (or 402) past the quota, exact under concurrency."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from aiproxy_billing import Billing


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


async def test_a_plan_change_reaches_requests_on_this_gateway_at_once_and_on_others_within_a_second(
    aiproxy_redis_prefix: str, aiproxy_gateway_factory: Any, consumer: Any
) -> None:
    """Requests read plans through a 1 s per-process cache; changes through the Admin API forget it."""
    redis = {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix}
    chain = [{"name": "billing"}]
    first = await aiproxy_gateway_factory(plugins={"billing": Billing()}, chain=chain, redis=redis)
    second = await aiproxy_gateway_factory(plugins={"billing": Billing()}, chain=chain, redis=redis)  # same Redis
    plan_id = await free_plan(first, 100, 402)
    _, key = await consumer(first, plan_id)
    body = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}
    here = first.proxy_client(key)
    there = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=second.gateway.proxy_app), base_url=f"http://{first.host}",
        headers={"Authorization": f"Bearer {key}"},
    )
    async with there:
        for client in (here, there):  # both gateways now hold the plan with a quota of 100
            assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
        tightened = await first.admin.put(
            f"/api/v1/tenants/{first.tenant['id']}/plans/{plan_id}",
            json={"name": "Free", "type": "free", "quota": 2, "period": "day", "over_quota_status": 402},
            headers=first.tenant_auth,
        )
        assert tightened.status_code == 200, tightened.text
        assert (await here.post("/v1/chat/completions", json=body)).status_code == 402  # this gateway: at once
        await asyncio.sleep(1.1)
        assert (await there.post("/v1/chat/completions", json=body)).status_code == 402  # the other: within 1 s


async def test_quota_counts_are_state_api_counters(billing_gateway: Any, consumer: Any) -> None:
    """A day's count is the fixed counter ``quota:<consumer id>:<YYYY-MM-DD>`` of ``services.state("billing")``."""
    from datetime import datetime, timezone

    from aiproxy_billing.quota import CLOCK_MARGIN_MS, covering_window, period_bounds

    gw = await billing_gateway()
    consumer_id, key = await consumer(gw, await free_plan(gw, 3))
    body = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(2):
        assert (await gw.proxy_client(key).post("/v1/chat/completions", json=body)).status_code == 200
    now = datetime.now(timezone.utc)
    start, end = period_bounds("day", now)
    window = covering_window(int(start.timestamp() * 1000) - CLOCK_MARGIN_MS, int(end.timestamp() * 1000) + CLOCK_MARGIN_MS) / 1000
    counters = gw.gateway.services.state("billing").counters(gw.tenant["id"])
    name = f"quota:{consumer_id}:{now:%Y-%m-%d}"
    assert (await counters.peek(name, limit=3, window=window, kind="fixed")).count == 2


async def test_a_monthly_quota_is_exact_under_concurrency(billing_gateway: Any, consumer: Any) -> None:
    gw = await billing_gateway()
    made = await gw.admin.post(
        f"/api/v1/tenants/{gw.tenant['id']}/plans",
        json={"name": "Free", "type": "free", "quota": 7, "period": "month", "over_quota_status": 402},
        headers=gw.tenant_auth,
    )
    assert made.status_code == 201, made.text
    _, key = await consumer(gw, made.json()["id"])
    client = gw.proxy_client(key)
    body = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}
    responses = await asyncio.gather(*(client.post("/v1/chat/completions", json=body) for _ in range(40)))
    assert Counter(r.status_code for r in responses) == {200: 7, 402: 33}
    refused = next(r for r in responses if r.status_code == 402)
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 31 * 86400 + 1


def test_every_calendar_month_and_day_is_inside_one_bucket_of_its_counter() -> None:
    """The state API's fixed windows are epoch-aligned; each period's window must hold the whole
    period (and its clock margins) in one bucket, and end soon after it (so the counter expires)."""
    from datetime import datetime, timedelta, timezone

    from aiproxy_billing.quota import CLOCK_MARGIN_MS, covering_window, period_bounds

    def check(period: str, moment: datetime, longest_tail_ms: int) -> None:
        start, end = period_bounds(period, moment)  # type: ignore[arg-type]
        first, last = int(start.timestamp() * 1000) - CLOCK_MARGIN_MS, int(end.timestamp() * 1000) + CLOCK_MARGIN_MS
        width = covering_window(first, last)
        bucket = first - first % width
        assert bucket <= first and last <= bucket + width, (period, moment)
        assert bucket + width - last <= longest_tail_ms, (period, moment, bucket + width - last)

    month = datetime(2000, 1, 15, tzinfo=timezone.utc)
    for _ in range(12 * 101):  # 2000-2100
        check("month", month, 3 * 3600 * 1000)
        month = (month + timedelta(days=31)).replace(day=15)
    day = datetime(2020, 1, 1, 12, tzinfo=timezone.utc)
    for _ in range(366 * 12):
        check("day", day, 60 * 1000)
        day += timedelta(days=1)
