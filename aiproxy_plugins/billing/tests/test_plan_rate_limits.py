"""A plan's ``rate_limits`` feed the rate limiter's plan scope (billing before rate_limiter in the chain)."""

from __future__ import annotations

import logging
from typing import Any

from aiproxy_billing import Billing
from aiproxy_rate_limiter import RateLimiter

BODY = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}


async def plan(gw: Any, **fields: Any) -> str:
    made = await gw.admin.post(
        f"/api/v1/tenants/{gw.tenant['id']}/plans",
        json={"name": "p", "type": "pay_per_call", "price_per_request": "0.01", **fields},
        headers=gw.tenant_auth,
    )
    assert made.status_code == 201, made.text
    return made.json()["id"]


async def gateway(factory: Any, backend: Any, billing_priority: int) -> Any:
    chain = [
        {"name": "billing", "priority": billing_priority},
        {"name": "rate_limiter", "priority": 100, "settings": {"limit": 1000, "window": "1m"}},
    ]
    return await factory(plugins={"billing": Billing(), "rate_limiter": RateLimiter()}, chain=chain, redis=backend)


async def test_a_plans_rate_limits_are_counted_per_consumer(aiproxy_gateway_factory: Any, backend: Any, consumer: Any) -> None:
    gw = await gateway(aiproxy_gateway_factory, backend, billing_priority=50)
    limited = await plan(gw, rate_limits={"limit": 2, "window": "1m"})
    _, alice = await consumer(gw, limited)
    _, bob = await consumer(gw, limited, "Bob")
    _, carol = await consumer(gw, await plan(gw), "Carol")  # a plan without limits

    answers = [await gw.proxy_client(alice).post("/v1/chat/completions", json=BODY) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limited" and "2 per 1m" in refused.json()["error"]["message"]
    assert f"plan.{limited}" in refused.headers["ratelimit-policy"] and int(refused.headers["retry-after"]) >= 1
    assert (await gw.proxy_client(bob).post("/v1/chat/completions", json=BODY)).status_code == 200  # Bob counts apart
    for _ in range(3):
        assert (await gw.proxy_client(carol).post("/v1/chat/completions", json=BODY)).status_code == 200


async def test_billing_after_the_rate_limiter_is_named_in_the_log(
    aiproxy_gateway_factory: Any, backend: Any, consumer: Any, caplog: Any
) -> None:
    gw = await gateway(aiproxy_gateway_factory, backend, billing_priority=200)
    _, alice = await consumer(gw, await plan(gw, rate_limits={"limit": 1, "window": "1m"}))
    with caplog.at_level(logging.WARNING, logger="aiproxy.billing"):
        for _ in range(2):
            assert (await gw.proxy_client(alice).post("/v1/chat/completions", json=BODY)).status_code == 200
    assert "the rate limiter ran before billing" in caplog.text
