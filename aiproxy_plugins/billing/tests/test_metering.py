"""Metering through the gateway on both backends: events, the worker, the ledger and usage reports."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from aiproxy_billing.backend import open_backend
from aiproxy_billing.events import BillingEvent


def today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


async def make_plan(gw: Any, body: dict[str, Any]) -> str:
    made = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/plans", json={"name": "p", **body}, headers=gw.tenant_auth)
    assert made.status_code == 201, made.text
    return made.json()["id"]


async def usage_of(gw: Any, consumer: str, **params: str) -> Any:
    response = await gw.admin.get(
        f"/api/v1/tenants/{gw.tenant['id']}/consumers/{consumer}/usage",
        params={"from": today(), "to": today(), **params},
        headers=gw.tenant_auth,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_requests_are_metered_into_the_ledger_and_reported(
    billing_gateway: Any, consumer: Any, plugin_of: Any, wait_for: Any
) -> None:
    gw = await billing_gateway()
    plan_id = await make_plan(gw, {"type": "pay_per_call", "price_per_request": "0.002",
                                   "endpoint_prices": {"/v1/embeddings": "0.0005"}})
    alice, key = await consumer(gw, plan_id)
    bob, _ = await consumer(gw, None, "Bob")
    client = gw.proxy_client(key)
    expected_in = expected_out = 0
    for n in range(3):
        answer = await client.post("/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"hello there {n}"}]})
        assert answer.status_code == 200, answer.text
        expected_in += answer.json()["usage"]["prompt_tokens"]
        expected_out += answer.json()["usage"]["completion_tokens"]
    embedded = await client.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": "hi"})
    assert embedded.status_code == 200, embedded.text
    failed = await client.post("/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": []}, headers={"X-Mock-Status": "500"})
    assert failed.status_code == 500  # not billable

    ledger = plugin_of(gw).backend().ledger
    await wait_for(lambda: _count_is(ledger, gw.tenant["id"], 4))
    report = await usage_of(gw, alice)
    assert report["requests"] == 4
    assert report["input_tokens"] >= expected_in and report["output_tokens"] == expected_out
    # 3 x 0.002 + 1 x 0.0005 = 0.0065 -> 0.01 to the cent
    assert report["cost_exact"] == "0.0065" and report["cost"] == "0.01"
    assert report["plan_id"] == plan_id
    assert [d["date"] for d in report["by_day"]] == [today()] and report["by_day"][0]["requests"] == 4
    assert Decimal(report["by_day"][0]["cost"]) == Decimal("0.0065")
    by_endpoint = {e["endpoint"]: e["requests"] for e in report["by_endpoint"]}
    assert by_endpoint == {"/v1/chat/completions": 3, "/v1/embeddings": 1}
    # Another consumer, and another tenant's view, see nothing of it.
    assert (await usage_of(gw, bob))["requests"] == 0


async def _count_is(ledger: Any, tenant_id: str, count: int) -> bool:
    return await ledger.count(tenant_id) == count


async def test_a_repeated_client_request_id_bills_every_request(billing_gateway: Any, plugin_of: Any, wait_for: Any) -> None:
    """The client's X-Request-ID is for tracing: billing keys on the gateway's own id (issue #9.7)."""
    gw = await billing_gateway()
    for _ in range(20):
        answer = await gw.chat("same id", headers={"X-Request-ID": "req-fixed-1"})
        assert answer.status_code == 200 and answer.headers["x-request-id"] == "req-fixed-1"  # still echoed
    ledger = plugin_of(gw).backend().ledger
    await wait_for(lambda: _count_is(ledger, gw.tenant["id"], 20))
    await asyncio.sleep(0.3)  # give any extra event the time to (wrongly) land
    assert await ledger.count(gw.tenant["id"]) == 20
    key_id = (await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/keys", headers=gw.tenant_auth)).json()["data"][0]["id"]
    assert (await usage_of(gw, f"key:{key_id}"))["requests"] == 20


async def test_streamed_usage_is_asked_for_metered_and_hidden(billing_gateway: Any, plugin_of: Any, wait_for: Any) -> None:
    gw = await billing_gateway()
    response = await gw.chat("count my tokens please", stream=True)
    assert response.status_code == 200
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:") and "[DONE]" not in line]
    assert events and not any("usage" in e for e in events), "the client did not ask for the usage chunk"
    asked = await gw.chat("count my tokens please", stream=True, stream_options={"include_usage": True})
    assert '"usage"' in asked.text  # the client asked: it keeps the chunk

    ledger = plugin_of(gw).backend().ledger
    await wait_for(lambda: _count_is(ledger, gw.tenant["id"], 2))
    key_id = (await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/keys", headers=gw.tenant_auth)).json()["data"][0]["id"]
    report = await usage_of(gw, f"key:{key_id}")
    assert report["requests"] == 2 and report["input_tokens"] == 8 and report["output_tokens"] > 0


async def test_a_stream_flag_spelled_with_escapes_is_still_metered(billing_gateway: Any, plugin_of: Any, wait_for: Any) -> None:
    """The plugin skips parsing bodies that cannot ask for a stream; "\\u0073tream" must not slip past."""
    gw = await billing_gateway()
    body = b'{"model": "gpt-4o-mini", "\\u0073tream": true, "messages": [{"role": "user", "content": "count my tokens please"}]}'
    response = await gw.proxy_client(gw.tenant["api_key"]).post(
        "/v1/chat/completions", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200 and "data:" in response.text
    assert '"usage"' not in response.text, "the usage chunk billing asked for leaked to the client"
    ledger = plugin_of(gw).backend().ledger
    await wait_for(lambda: _count_is(ledger, gw.tenant["id"], 1))
    key_id = (await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/keys", headers=gw.tenant_auth)).json()["data"][0]["id"]
    report = await usage_of(gw, f"key:{key_id}")
    assert report["input_tokens"] == 4 and report["output_tokens"] > 0, report


async def test_usage_report_rejects_bad_ranges(billing_gateway: Any) -> None:
    gw = await billing_gateway()
    url = f"/api/v1/tenants/{gw.tenant['id']}/consumers/c1/usage"
    for params in ({"from": "yesterday"}, {"from": "2025-02-10", "to": "2025-02-01"}, {"from": "2020-01-01", "to": "2025-01-01"}):
        response = await gw.admin.get(url, params=params, headers=gw.tenant_auth)
        assert response.status_code == 400, response.text
    assert (await gw.admin.get(url)).status_code == 401


async def test_replayed_events_are_written_once(billing_state: Any) -> None:
    """The ledger's idempotency on its own: a worker writes a claimed batch and dies before its
    ack; another worker is handed the same items again (by queue batch) and counts nothing twice."""
    from aiproxy_billing.metering_queue import GROUP
    from aiproxy_billing.worker import _event as claimed_event

    store = open_backend(billing_state)
    events = [_event(f"r{n}", day="2025-03-0" + str(1 + n % 2)) for n in range(10)]
    await asyncio.gather(*(store.queue.put(event) for event in events))  # one turn: one batch on Redis
    queue = store.queue.queue
    first = await queue.claim(GROUP, "dies", count=100, reclaim_after=0.001)
    assert sorted(e.item["request_id"] for e in first) == sorted(e.request_id for e in events)
    assert await store.ledger.write([(e.batch, claimed_event(e)) for e in first]) == 10
    await asyncio.sleep(0.01)  # "dies" never acknowledges: its claim goes stale
    again = await queue.claim(GROUP, "takes-over", count=100, reclaim_after=0.001)
    assert sorted(e.id for e in again) == sorted(e.id for e in first) and {e.attempts for e in again} == {2}
    assert await store.ledger.write([(e.batch, claimed_event(e)) for e in again]) == 0
    await queue.ack(GROUP, [e.id for e in again])
    await _drain(store)  # nothing left
    assert await store.ledger.count("t1") == 10
    days = [datetime(2025, 3, d).date() for d in (1, 2)]
    usage, plan = await store.ledger.days("t1", "c1", days)
    assert sum(u.requests for u in usage.values()) == 10
    assert sum(u.input_tokens for u in usage.values()) == 100 and plan == "plan_x"
    assert await store.ledger.records.count("t1") == (0 if store.ledger.records.sink == "none" else 10)


async def _drain(store: Any) -> None:
    from aiproxy_billing.worker import run_worker

    await run_worker(store.drain(claim_idle=0.001), asyncio.Event(), once=True)


def _event(request_id: str, day: str) -> BillingEvent:
    return BillingEvent(
        request_id=request_id, tenant_id="t1", consumer_id="c1", key_id="k1", rule_id="r1", endpoint="/v1/chat/completions",
        model="gpt-4o", input_tokens=10, output_tokens=5, status=200, latency_ms=1.5, timestamp=f"{day}T10:00:00.000Z",
        plan_id="plan_x",
    )


async def test_a_batch_of_many_tenants_and_consumers_is_summed_per_aggregate_and_counted_once(billing_state: Any) -> None:
    """The ledger sums a queue batch's events per consumer and day before one idempotent write per
    tenant; every figure of every aggregate must come out as if each event were added alone."""
    store = open_backend(billing_state)
    claimed = []
    for n in range(40):
        event = dataclasses.replace(
            _event(f"m{n}", day="2025-04-0" + str(1 + n % 3)),
            tenant_id=f"t{n % 2}", consumer_id=f"c{n % 4}", model=f"model-{n % 5}", input_tokens=n, output_tokens=2 * n,
        )
        claimed.append((f"events/{n // 16}", event))  # three batches, the last one short
    assert await store.ledger.write(claimed) == 40
    assert await store.ledger.write(claimed[:16]) == 0  # a redelivered batch
    assert await store.ledger.count("t0") == 20 and await store.ledger.count("t1") == 20
    days = [datetime(2025, 4, d).date() for d in (1, 2, 3)]
    for tenant, consumer in (("t0", "c0"), ("t0", "c2"), ("t1", "c1"), ("t1", "c3")):
        mine = [e for _, e in claimed if e.tenant_id == tenant and e.consumer_id == consumer]
        usage, plan = await store.ledger.days(tenant, consumer, days)
        assert sum(u.requests for u in usage.values()) == len(mine) and plan == "plan_x"
        assert sum(u.input_tokens for u in usage.values()) == sum(e.input_tokens for e in mine)
        by_model: dict[str, tuple[int, int]] = {}
        for day in usage.values():
            for model, (i, o) in day.tokens_by_model.items():
                before = by_model.get(model, (0, 0))
                by_model[model] = (before[0] + i, before[1] + o)
        expected: dict[str, tuple[int, int]] = {}
        for e in mine:
            before = expected.get(e.model, (0, 0))
            expected[e.model] = (before[0] + e.input_tokens, before[1] + e.output_tokens)
        assert by_model == expected
