"""Limits enforced through a real gateway, embedded (memory) and on Redis."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import httpx
import pytest

#: How many windows a refused client may have to wait: the sliding counter's previous bucket
#: weighs on through the next one, so after a burst of 5 its Retry-After is up to 2 windows
#: (72 s for 5 per minute: the burst must fall to a weight of 4); the exact log's is at most one.
RETRY_WINDOWS = {"sliding": 2, "exact": 1}


@pytest.mark.parametrize("algorithm", ["sliding", "exact"])
async def test_the_sixth_request_of_five_per_minute_is_a_429_with_every_header(
    limited_gateway: Any, assert_limit_headers: Callable[..., None], algorithm: str
) -> None:
    gw = await limited_gateway({"limit": 5, "window": "1m", "algorithm": algorithm})
    for sent in range(1, 6):
        response = await gw.chat()
        assert response.status_code == 200, response.text
        assert_limit_headers(response, limit=5, window=60, remaining=5 - sent)
        assert "retry-after" not in response.headers
    refused = await gw.chat()
    assert refused.status_code == 429
    assert_limit_headers(refused, limit=5, window=60, remaining=0)
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 60 * RETRY_WINDOWS[algorithm]
    assert refused.headers["x-ratelimit-reset"] == str(retry_after)
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limited")
    assert error["message"] == f"rate limit of 5 per 1m exceeded; retry in {retry_after} s"


async def test_headers_on_a_streamed_answer(limited_gateway: Any, assert_limit_headers: Callable[..., None]) -> None:
    gw = await limited_gateway({"limit": 3, "window": "10s"})
    response = await gw.chat(stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert_limit_headers(response, limit=3, window=10, remaining=2)


@pytest.mark.parametrize("algorithm", ["sliding", "fixed", "exact"])
async def test_a_retry_after_retry_after_seconds_succeeds(limited_gateway: Any, algorithm: str) -> None:
    gw = await limited_gateway({"limit": 2, "window": "2s", "algorithm": algorithm})
    assert [(await gw.chat()).status_code for _ in range(2)] == [200, 200]
    refused = await gw.chat()
    assert refused.status_code == 429
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 2 * RETRY_WINDOWS.get(algorithm, 1)
    await asyncio.sleep(retry_after)
    assert (await gw.chat()).status_code == 200


async def test_a_burst_limit_applies_with_the_main_one(limited_gateway: Any) -> None:
    gw = await limited_gateway({"limit": 100, "window": "1m", "burst": {"limit": 3, "window": "10s"}})
    statuses = [(await gw.chat()).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = await gw.chat()
    assert refused.headers["ratelimit-policy"] == '"default";q=100;w=60, "burst";q=3;w=10'
    # The refusal names the burst limit; the refused requests used none of the main limit.
    assert refused.json()["error"]["message"].startswith("rate limit of 3 per 10s exceeded")
    assert '"default";r=97;' in refused.headers["ratelimit"]
    assert (refused.headers["x-ratelimit-limit"], refused.headers["x-ratelimit-remaining"]) == ("3", "0")


async def _new_key(gw: Any) -> str:
    made = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/keys", headers=gw.tenant_auth, json={"name": "second"})
    assert made.status_code == 201, made.text
    return made.json()["key"]


async def test_each_key_is_its_own_consumer(limited_gateway: Any) -> None:
    gw = await limited_gateway({"limit": 2, "window": "1m", "key": "consumer"})
    other = gw.proxy_client(await _new_key(gw))
    try:
        assert [(await gw.chat()).status_code for _ in range(3)] == [200, 200, 429]
        body = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}
        assert [(await other.post("/v1/chat/completions", json=body)).status_code for _ in range(3)] == [200, 200, 429]
    finally:
        await other.aclose()


async def test_keys_of_a_tenant_share_a_tenant_limit(limited_gateway: Any) -> None:
    gw = await limited_gateway({"limit": 2, "window": "1m", "key": "tenant"})
    other = gw.proxy_client(await _new_key(gw))
    try:
        assert (await gw.chat()).status_code == 200
        body = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}
        assert [(await other.post("/v1/chat/completions", json=body)).status_code for _ in range(2)] == [200, 429]
        assert (await gw.chat()).status_code == 429
    finally:
        await other.aclose()


async def test_tenants_never_share_counters(limited_gateway: Any) -> None:
    first = await limited_gateway({"limit": 1, "window": "1m", "key": "tenant"})
    second = await limited_gateway({"limit": 1, "window": "1m", "key": "tenant"})
    assert [(await first.chat()).status_code for _ in range(2)] == [200, 429]
    assert (await second.chat()).status_code == 200


async def test_a_header_can_name_the_subject(limited_gateway: Any) -> None:
    gw = await limited_gateway({"limit": 1, "window": "1m", "key": "header:X-User"})
    assert (await gw.chat(headers={"X-User": "ann"})).status_code == 200
    assert (await gw.chat(headers={"X-User": "ann"})).status_code == 429
    assert (await gw.chat(headers={"X-User": "bob"})).status_code == 200


async def _add_embeddings_rule(gw: Any, settings: dict[str, Any]) -> None:
    made = await gw.admin.post(
        f"/api/v1/tenants/{gw.tenant['id']}/rules",
        headers=gw.tenant_auth,
        json={"path": "/v1/embeddings", "target": gw.rule["target"], "plugin_chain": [{"name": "rate_limiter", "settings": settings}]},
    )
    assert made.status_code == 201, made.text


async def _embed(gw: Any) -> httpx.Response:
    return await gw.proxy.post("/v1/embeddings", json={"model": "mock-model", "input": "hi"})


async def test_without_per_endpoint_rules_share_a_counter(limited_gateway: Any) -> None:
    settings = {"limit": 2, "window": "1m"}
    gw = await limited_gateway(settings)
    await _add_embeddings_rule(gw, settings)
    assert [(await gw.chat()).status_code for _ in range(2)] == [200, 200]
    assert (await _embed(gw)).status_code == 429


async def test_per_endpoint_counts_each_rule_apart(limited_gateway: Any) -> None:
    settings = {"limit": 2, "window": "1m", "per_endpoint": True}
    gw = await limited_gateway(settings)
    await _add_embeddings_rule(gw, settings)
    assert [(await gw.chat()).status_code for _ in range(3)] == [200, 200, 429]
    assert [(await _embed(gw)).status_code for _ in range(3)] == [200, 200, 429]


async def test_several_limits_all_apply(limited_gateway: Any) -> None:
    gw = await limited_gateway({"limits": [{"limit": 3, "window": "1m"}, {"limit": 2, "window": "30s"}]})
    ok = await gw.chat()
    assert ok.headers["ratelimit-policy"] == '"limits.0";q=3;w=60, "limits.1";q=2;w=30'
    assert ok.headers["ratelimit"].startswith('"limits.0";r=2;t=')
    assert (await gw.chat()).status_code == 200
    refused = await gw.chat()
    assert refused.status_code == 429
    assert refused.json()["error"]["message"].startswith("rate limit of 2 per 30s exceeded")
    assert '"limits.0";r=1;' in refused.headers["ratelimit"]  # the refusal used none of limits.0


async def test_the_tenants_tier_adds_its_plan(limited_gateway: Any) -> None:
    settings = {
        "limit": 10,
        "window": "1m",
        "plans": {"free": {"limit": 2, "window": "1m"}, "pro": {"limit": 4, "window": "1m"}},
    }
    free = await limited_gateway(settings, tenant={"tier": "free"})
    pro = await limited_gateway(settings, tenant={"tier": "pro"})
    enterprise = await limited_gateway(settings, tenant={"tier": "enterprise"})
    assert [(await free.chat()).status_code for _ in range(3)] == [200, 200, 429]
    pro_statuses = [(await pro.chat()) for _ in range(5)]
    assert [r.status_code for r in pro_statuses] == [200, 200, 200, 200, 429]
    assert pro_statuses[0].headers["ratelimit-policy"] == '"default";q=10;w=60, "plan.pro";q=4;w=60'
    assert pro_statuses[-1].json()["error"]["message"].startswith("rate limit of 4 per 1m exceeded")
    # A tier without a plan has the rule's own limit only.
    assert [(await enterprise.chat()).status_code for _ in range(11)] == [200] * 10 + [429]
