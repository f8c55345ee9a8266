"""Through a real gateway (in process, embedded): 3 consumers x 400 requests whose upstream
latency the mock sets per request, from addresses of known countries.

Counts are exact per consumer and country; every percentile is within the sketch's stated 1 % of
the exact percentile of the latencies the gateway measured (its own kept records); streamed
requests get TTFT percentiles, plain ones none."""

from __future__ import annotations

import random
from typing import Any

from aiproxy_sdk import GatewayHarness

PER_CONSUMER = 400
#: Per consumer: its client address (and that address's country in the shipped database), how
#: the mock's latency is drawn, and whether it streams.
PROFILES: list[dict[str, Any]] = [
    {"ip": "8.8.8.8", "country": "US", "latency": lambda rng: rng.uniform(2, 20), "stream": False},
    {"ip": "81.2.69.142", "country": "GB", "latency": lambda rng: rng.uniform(30, 60), "stream": False},
    {"ip": "133.242.0.1", "country": "JP", "latency": lambda rng: rng.choice((5, 5, 5, 80)), "stream": True},
]


async def _send(client: Any, profile: dict[str, Any], latency: float, index: int) -> int:
    headers = {"X-Forwarded-For": profile["ip"], "X-Mock-Latency-Ms": f"{latency:.1f}"}
    body = {"model": f"mock-model-{index % 2}", "messages": [{"role": "user", "content": "hi"}], "stream": profile["stream"]}
    async with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
        await response.aread()
        return response.status_code


async def test_counts_percentiles_countries_and_ttft(analytics_gateway, consumer, flush, gather, within_bound) -> None:
    gw: GatewayHarness = await analytics_gateway()
    rng = random.Random(12)
    calls, ids = [], []
    for number, profile in enumerate(PROFILES):
        consumer_id, key = await consumer(gw, f"consumer-{number}")
        ids.append(consumer_id)
        client = gw.proxy_client(api_key=key, timeout=30)
        calls += [_send(client, profile, profile["latency"](rng), i) for i in range(PER_CONSUMER)]
    rng.shuffle(calls)
    assert set(await gather(calls)) == {200}
    await flush(gw)

    base = f"/api/v1/tenants/{gw.tenant['id']}"
    by_consumer = (await gw.admin.get(f"{base}/analytics", params={"interval": "minute", "group_by": "consumer"}, headers=gw.tenant_auth)).json()
    groups = {g["key"]["consumer"]: g for g in by_consumer["groups"]}
    assert {cid: groups[cid]["requests"] for cid in ids} == dict.fromkeys(ids, PER_CONSUMER)
    assert all(groups[cid]["errors"] == 0 for cid in ids)
    # The mock slept as told: the gateway measured at least that.
    assert groups[ids[1]]["latency_ms"]["p50"] >= 30 * 0.99

    # The exact figures: the gateway's own per-request records (the SQLite state file).
    records = await _records(gw)
    assert len(records) == 3 * PER_CONSUMER
    for cid, profile in zip(ids, PROFILES):
        mine = [r for r in records if r["consumer_id"] == cid]
        within_bound(groups[cid]["latency_ms"], [r["latency_ms"] for r in mine], 0.01)
        assert all(r["country"] == profile["country"] for r in mine)
        if profile["stream"]:
            within_bound(groups[cid]["ttft_ms"], [r["ttft_ms"] for r in mine], 0.01)
            # TTFT is from arrival to the first byte: at least the upstream's delay before it.
            assert groups[cid]["ttft_ms"]["p50"] >= 5 * 0.99
        else:
            assert groups[cid]["ttft_ms"]["p50"] is None
        assert groups[cid]["input_tokens"] == sum(r["input_tokens"] for r in mine) > 0
        assert groups[cid]["output_tokens"] == sum(r["output_tokens"] for r in mine) > 0

    countries = (await gw.admin.get(f"{base}/analytics", params={"interval": "hour", "group_by": "country"}, headers=gw.tenant_auth)).json()
    assert {g["key"]["country"]: g["requests"] for g in countries["groups"]} == {"US": 400, "GB": 400, "JP": 400}
    models = (await gw.admin.get(f"{base}/analytics", params={"interval": "day", "group_by": "model"}, headers=gw.tenant_auth)).json()
    assert {g["key"]["model"]: g["requests"] for g in models["groups"]} == {"mock-model-0": 600, "mock-model-1": 600}

    # One consumer's own view (a portal) answers the same as its group.
    own = (await gw.admin.get(f"{base}/consumers/{ids[1]}/analytics", params={"interval": "minute"}, headers=gw.tenant_auth)).json()
    assert [g["key"] for g in own["groups"]] == [{"consumer": ids[1]}]
    assert own["groups"][0]["latency_ms"] == groups[ids[1]]["latency_ms"]
    assert sum(point["requests"] for point in own["groups"][0]["series"]) == PER_CONSUMER


async def _records(gw: GatewayHarness) -> list[dict[str, Any]]:
    records = gw.gateway.services.state("analytics").records("requests")
    return [record.data for record in await records.read(gw.tenant["id"], limit=10_000)]
