"""Prepaid credits on both backends: top-ups, 402 when short, settlement, never below zero."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any

BODY = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}


def credits_path(gw: Any, consumer_id: str) -> str:
    return f"/api/v1/tenants/{gw.tenant['id']}/consumers/{consumer_id}/credits"


async def top_up(gw: Any, consumer_id: str, amount: str) -> Decimal:
    answer = await gw.admin.post(credits_path(gw, consumer_id), json={"amount": amount}, headers=gw.tenant_auth)
    assert answer.status_code == 200, answer.text
    return Decimal(answer.json()["balance"])


async def balance(gw: Any, consumer_id: str) -> Decimal:
    answer = await gw.admin.get(credits_path(gw, consumer_id), headers=gw.tenant_auth)
    assert answer.status_code == 200, answer.text
    return Decimal(answer.json()["balance"])


async def plan(gw: Any, spec: dict[str, Any]) -> str:
    made = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/plans", json=spec, headers=gw.tenant_auth)
    assert made.status_code == 201, made.text
    return made.json()["id"]


async def settles_to(gw: Any, consumer_id: str, expected: Decimal, wait_for: Any) -> None:
    """post_response runs after the answer is sent: wait for the balance it leaves."""

    async def settled() -> bool:
        return await balance(gw, consumer_id) == expected

    try:
        await wait_for(settled, 10)
    except AssertionError:
        raise AssertionError(f"balance {await balance(gw, consumer_id)}, expected {expected}") from None


async def test_top_up_and_read(billing_gateway: Any, consumer: Any) -> None:
    gw = await billing_gateway({"prepaid": True})
    consumer_id, _ = await consumer(gw)
    assert await balance(gw, consumer_id) == 0
    assert await top_up(gw, consumer_id, "10.00") == Decimal("10")
    answer = await gw.admin.post(credits_path(gw, consumer_id), json={"amount": "0.000001"}, headers=gw.tenant_auth)
    assert answer.json() == {"consumer_id": consumer_id, "balance": "10.000001"}
    assert await balance(gw, consumer_id) == Decimal("10.000001")


async def test_bad_top_ups_are_refused_and_change_nothing(billing_gateway: Any, consumer: Any) -> None:
    gw = await billing_gateway({"prepaid": True})
    consumer_id, _ = await consumer(gw)
    await top_up(gw, consumer_id, "1")
    path = credits_path(gw, consumer_id)
    for body in ({"amount": 0.1}, {"amount": "0"}, {"amount": "-5"}, {"amount": "abc"}, {"amount": "0.0000001"},
                 {"amount": "NaN"}, {}, {"amount": "1", "extra": 1}, {"amount": True}, {"amount": "2000000000"}):
        answer = await gw.admin.post(path, json=body, headers=gw.tenant_auth)
        assert answer.status_code == 422, (body, answer.text)
        assert "error" in answer.json()
    bad_json = await gw.admin.post(path, content=b"{", headers={**gw.tenant_auth, "content-type": "application/json"})
    assert bad_json.status_code == 400 and "error" in bad_json.json()
    assert (await gw.admin.post(path, json={"amount": "1"})).status_code == 401
    missing = await gw.admin.post(credits_path(gw, "con_nobody"), json={"amount": "1"}, headers=gw.tenant_auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "consumer_not_found"
    assert (await gw.admin.get(credits_path(gw, "con_nobody"), headers=gw.tenant_auth)).status_code == 404
    assert await balance(gw, consumer_id) == 1


async def test_too_little_credit_is_402_insufficient_credits(billing_gateway: Any, consumer: Any, wait_for: Any) -> None:
    gw = await billing_gateway({"prepaid": True, "reserve": "0.01"})
    consumer_id, key = await consumer(gw)
    client = gw.proxy_client(key)
    refused = await client.post("/v1/chat/completions", json=BODY)
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"]["code"] == "insufficient_credits"
    assert "top up" in refused.json()["error"]["message"]
    await top_up(gw, consumer_id, "0.01")
    assert (await client.post("/v1/chat/completions", json=BODY)).status_code == 200
    await settles_to(gw, consumer_id, Decimal(0), wait_for)  # no plan: the reservation is the price
    assert (await client.post("/v1/chat/completions", json=BODY)).json()["error"]["code"] == "insufficient_credits"


async def test_settlement_charges_the_real_price_and_refunds_failures(billing_gateway: Any, consumer: Any, wait_for: Any) -> None:
    gw = await billing_gateway({"prepaid": True, "reserve": "0.01"})
    plan_id = await plan(gw, {"name": "Calls", "type": "pay_per_call", "price_per_request": "0.002"})
    consumer_id, key = await consumer(gw, plan_id)
    await top_up(gw, consumer_id, "1")
    client = gw.proxy_client(key)
    assert (await client.post("/v1/chat/completions", json=BODY)).status_code == 200
    await settles_to(gw, consumer_id, Decimal("0.998"), wait_for)
    failed = await client.post("/v1/chat/completions", json=BODY, headers={"X-Mock-Status": "500"})
    assert failed.status_code == 500
    await asyncio.sleep(0.2)
    await settles_to(gw, consumer_id, Decimal("0.998"), wait_for)  # the reservation came back


async def test_usage_plans_charge_tokens(billing_gateway: Any, consumer: Any, wait_for: Any) -> None:
    gw = await billing_gateway({"prepaid": True, "reserve": "0.5"})
    prices = {"mock-model": {"input_per_1m": "2000", "output_per_1m": "5000"}}
    consumer_id, key = await consumer(gw, await plan(gw, {"name": "Tokens", "type": "usage", "prices": prices}))
    await top_up(gw, consumer_id, "5")
    answer = await gw.proxy_client(key).post("/v1/chat/completions", json=BODY)
    assert answer.status_code == 200
    usage = answer.json()["usage"]
    cost = usage["prompt_tokens"] * Decimal("0.002") + usage["completion_tokens"] * Decimal("0.005")
    assert cost > 0
    await settles_to(gw, consumer_id, Decimal(5) - cost, wait_for)


async def test_a_price_above_the_balance_stops_it_at_zero(billing_gateway: Any, consumer: Any, plugin_of: Any, wait_for: Any) -> None:
    gw = await billing_gateway({"prepaid": True, "reserve": "0.01"})
    consumer_id, key = await consumer(gw, await plan(gw, {"name": "Dear", "type": "pay_per_call", "price_per_request": "0.05"}))
    await top_up(gw, consumer_id, "0.03")
    assert (await gw.proxy_client(key).post("/v1/chat/completions", json=BODY)).status_code == 200
    await settles_to(gw, consumer_id, Decimal(0), wait_for)
    # The store reports what it could not charge (the plugin puts it in ctx.annotations).
    credits = plugin_of(gw).credits
    await credits.top_up(gw.tenant["id"], consumer_id, 10_000)
    reservation = await credits.reserve(gw.tenant["id"], consumer_id, 10_000)
    assert reservation is not None
    assert await credits.settle(gw.tenant["id"], reservation, 50_000) == 40_000
    assert await credits.balance(gw.tenant["id"], consumer_id) == 0


async def test_prepaid_off_or_tenant_keys_draw_nothing(billing_gateway: Any, consumer: Any) -> None:
    gw = await billing_gateway({})
    _, key = await consumer(gw)
    assert (await gw.proxy_client(key).post("/v1/chat/completions", json=BODY)).status_code == 200
    prepaid = await billing_gateway({"prepaid": True})
    assert (await prepaid.proxy.post("/v1/chat/completions", json=BODY)).status_code == 200


async def test_concurrent_requests_never_overdraw(billing_gateway: Any, consumer: Any, wait_for: Any) -> None:
    gw = await billing_gateway({"prepaid": True, "reserve": "0.01"})
    consumer_id, key = await consumer(gw)
    await top_up(gw, consumer_id, "0.50")  # exactly 50 reservations
    client = gw.proxy_client(key)
    responses = await asyncio.gather(*(client.post("/v1/chat/completions", json=BODY) for _ in range(200)))
    assert Counter(r.status_code for r in responses) == {200: 50, 402: 150}
    assert all(r.json()["error"]["code"] == "insufficient_credits" for r in responses if r.status_code == 402)
    await settles_to(gw, consumer_id, Decimal(0), wait_for)


async def test_deleting_a_tenant_drops_its_billing_state_but_keeps_the_ledger_records(
    billing_gateway: Any, consumer: Any, plugin_of: Any, wait_for: Any
) -> None:
    gw = await billing_gateway()
    tenant = gw.tenant["id"]
    made = await gw.admin.post(f"/api/v1/tenants/{tenant}/plans", json={"name": "p", "type": "pay_per_call", "price_per_request": "0.01"},
                               headers=gw.tenant_auth)
    assert made.status_code == 201, made.text
    consumer_id, key = await consumer(gw, made.json()["id"])
    assert await top_up(gw, consumer_id, "5") == Decimal("5")
    target = await gw.admin.put(f"/api/v1/tenants/{tenant}/billing/export", json={"url": "http://127.0.0.1:9/hook"}, headers=gw.tenant_auth)
    assert target.status_code == 200, target.text
    assert (await gw.proxy_client(key).post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})).status_code == 200
    backend = plugin_of(gw).backend()

    async def billed() -> bool:
        return await backend.ledger.count(tenant) == 1

    await wait_for(billed)
    assert (await gw.admin.delete(f"/api/v1/tenants/{tenant}")).status_code == 204
    assert await backend.plans.list(tenant) == []
    assert await plugin_of(gw).credits.balance(tenant, consumer_id) == 0
    assert backend.exports is not None and await backend.exports.get_target(tenant) is None
    # The aggregates went with the tenant's state; the ledger's records stay where a sink keeps
    # them (embedded: the state file), and on Redis without one there were none to keep.
    assert await backend.ledger.count(tenant) == 0
    kept = await backend.ledger.records.read(tenant)
    if backend.ledger.records.sink == "none":
        assert kept == []
    else:
        assert [record.data["consumer_id"] for record in kept] == [consumer_id]


async def test_balances_are_state_api_balances(billing_gateway: Any, consumer: Any, wait_for: Any) -> None:
    """Credits live in ``services.state("billing")``: the balance ``credits:<consumer id>`` of the tenant."""
    gw = await billing_gateway({"prepaid": True, "reserve": "0.01"})
    consumer_id, key = await consumer(gw)
    counters = gw.gateway.services.state("billing").counters(gw.tenant["id"])
    await top_up(gw, consumer_id, "2.5")
    assert await counters.balance(f"credits:{consumer_id}") == 2_500_000
    assert await counters.credit(f"credits:{consumer_id}", 500_000) == 3_000_000
    assert await balance(gw, consumer_id) == Decimal(3)
    assert (await gw.proxy_client(key).post("/v1/chat/completions", json=BODY)).status_code == 200
    await settles_to(gw, consumer_id, Decimal("2.99"), wait_for)
    assert await counters.balance(f"credits:{consumer_id}") == 2_990_000


async def test_the_ceiling_is_the_state_apis_and_a_refused_top_up_adds_nothing(billing_gateway: Any, consumer: Any) -> None:
    gw = await billing_gateway({"prepaid": True})
    consumer_id, _ = await consumer(gw)
    counters = gw.gateway.services.state("billing").counters(gw.tenant["id"])
    assert await counters.credit(f"credits:{consumer_id}", 10**15 - 1_000_000) == 10**15 - 1_000_000  # 999,999,999
    assert await top_up(gw, consumer_id, "1") == Decimal(10**9)  # exactly the ceiling
    refused = await gw.admin.post(credits_path(gw, consumer_id), json={"amount": "0.000001"}, headers=gw.tenant_auth)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "balance_too_high"
    assert await balance(gw, consumer_id) == Decimal(10**9)



async def test_an_answer_the_upstream_broke_off_gives_the_reservation_back(billing_gateway: Any, consumer: Any, wait_for: Any) -> None:
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    from aiproxy_sdk import ServerThread

    async def chat(request: Any) -> StreamingResponse:
        async def events() -> Any:
            yield b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
            await asyncio.sleep(0.02)
            raise RuntimeError("the origin died mid-answer")

        return StreamingResponse(events(), media_type="text/event-stream")

    with ServerThread(Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])) as upstream:
        gw = await billing_gateway({"prepaid": True, "reserve": "0.01"}, upstream_url=upstream)
        plan_id = await plan(gw, {"name": "Calls", "type": "pay_per_call", "price_per_request": "0.002"})
        consumer_id, key = await consumer(gw, plan_id)
        await top_up(gw, consumer_id, "1")
        cut = await gw.proxy_client(key).post("/v1/chat/completions", json={**BODY, "stream": True})
        assert cut.status_code == 200 and "upstream_stream_interrupted" in cut.text
        await gw.settle()
        await settles_to(gw, consumer_id, Decimal(1), wait_for)  # settled at 0: the whole reservation back
