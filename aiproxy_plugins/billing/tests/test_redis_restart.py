"""A Redis restart (AOF, appendfsync always) loses nothing the billing queue acknowledged; the
ledger's records in PostgreSQL match the aggregates request for request; Redis holds only what
configuration bounds; a flushed queue is made again."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from aiproxy_billing import Billing

BEFORE = 40
AFTER = 10


async def test_a_redis_restart_keeps_every_billed_request_and_postgresql_holds_each_once(
    aiproxy_gateway_factory: Any, durable_redis: Any, aiproxy_postgresql_url: str, consumer: Any, wait_for: Any, plugin_of: Any
) -> None:
    section = {"host": "127.0.0.1", "port": durable_redis.port, "prefix": "restart"}
    gw = await aiproxy_gateway_factory(
        plugins={"billing": Billing()}, chain=[{"name": "billing", "settings": {}}], redis=section,
        config={"records": {"postgresql": aiproxy_postgresql_url}},
    )
    consumer_id, key = await consumer(gw)
    tenant = gw.tenant["id"]
    client = gw.proxy_client(key)
    backend = plugin_of(gw).backend()
    assert backend.ledger.records.sink == "postgresql"

    async def call(n: int) -> None:
        answer = await client.post(
            "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            headers={"X-Request-ID": f"req-{n}"},
        )
        assert answer.status_code == 200, answer.text

    async def ledger_holds(n: int) -> bool:
        try:
            return await backend.ledger.count(tenant) == n and (await backend.queue.backlog())["events_waiting"] == 0
        except ConnectionError:  # the first call on a connection Redis closed when it restarted
            return False

    for n in range(BEFORE):
        await call(n)
    await wait_for(lambda: ledger_holds(BEFORE), 15)
    # Records are keyed by the gateway's own request ids (never the client's X-Request-ID).
    billed_before = {record.id for record in await backend.ledger.records.read(tenant)}
    assert len(billed_before) == BEFORE and not billed_before & {f"req-{n}" for n in range(BEFORE)}

    durable_redis.stop()  # SIGTERM; then start again on the same port and directory (the AOF)
    durable_redis.start()

    await wait_for(lambda: ledger_holds(BEFORE), 5)  # nothing lost, nothing pending
    for n in range(BEFORE, BEFORE + AFTER):  # the gateway and its worker reconnect
        await call(n)
    await wait_for(lambda: ledger_holds(BEFORE + AFTER), 15)

    # PostgreSQL's ledger and Redis's aggregates agree, request for request.
    records = await backend.ledger.records.read(tenant)
    assert len({record.id for record in records}) == len(records) == BEFORE + AFTER and billed_before <= {r.id for r in records}
    days = sorted({record.data["timestamp"][:10] for record in records})
    from datetime import date

    usage, _ = await backend.ledger.days(tenant, consumer_id, [date.fromisoformat(day) for day in days])
    assert sum(day.requests for day in usage.values()) == BEFORE + AFTER  # each counted once
    assert sum(day.input_tokens for day in usage.values()) == sum(record.data["input_tokens"] for record in records)
    assert sum(day.output_tokens for day in usage.values()) == sum(record.data["output_tokens"] for record in records)


async def test_redis_keeps_only_what_configuration_bounds(
    aiproxy_redis_prefix: str, aiproxy_gateway_factory: Any, consumer: Any, plugin_of: Any, wait_for: Any
) -> None:
    """After billed traffic and a drained queue, every billing key is an aggregate, a plan or a
    remembered batch id with a TTL, never an event; the queue holds nothing."""
    section = {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix}
    gw = await aiproxy_gateway_factory(plugins={"billing": Billing()}, chain=[{"name": "billing"}], redis=section)
    plan = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/plans", headers=gw.tenant_auth,
                               json={"name": "Calls", "type": "pay_per_call", "price_per_request": "0.01"})
    _, key = await consumer(gw, plan.json()["id"])
    for n in range(60):
        answer = await gw.proxy_client(key).post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        assert answer.status_code == 200
    backend = plugin_of(gw).backend()
    await wait_for(lambda: _drained(backend, gw.tenant["id"], 60), 15)

    client = Redis(host="127.0.0.1", port=6379, decode_responses=True)
    try:
        keys = [k async for k in client.scan_iter(match=f"{aiproxy_redis_prefix}:*", count=1000)]
        billing = [k for k in keys if ":billing:" in k or "{billing:" in k]
        remembered = [k for k in billing if ":billing:o:" in k]
        # One per queue batch (sequential requests: nearly one each), each expiring.
        assert 0 < len(remembered) <= 60 and all(":billing:o:batch:events/" in k for k in remembered), remembered[:3]
        ttls = [await client.pttl(k) for k in remembered]
        assert all(0 < ttl <= 600_000 for ttl in ttls), ttls
        values = sorted(k.split(":billing:v:", 1)[1] for k in billing if ":billing:v:" in k)
        assert values == sorted([f"daily:{k}" for k in _daily_of(values)] + [f"plan:{plan.json()['id']}", "totals"])
        queues = [k for k in billing if "{billing:" in k]
        for queue in queues:  # the stream (and its acks hash): nothing left in them
            kind = await client.type(queue)
            assert (await client.xlen(queue) if kind == "stream" else await client.hlen(queue)) == 0, queue
    finally:
        await client.aclose()


async def _drained(backend: Any, tenant: str, count: int) -> bool:
    return await backend.ledger.count(tenant) == count and (await backend.queue.backlog())["events_waiting"] == 0


def _daily_of(values: list[str]) -> list[str]:
    return [value[len("daily:"):] for value in values if value.startswith("daily:")]


async def test_a_flushed_queue_is_made_again_and_later_requests_are_billed(
    aiproxy_redis_prefix: str, aiproxy_gateway_factory: Any, plugin_of: Any, wait_for: Any
) -> None:
    """Redis flushed under a running gateway: the worker's group is made again."""
    redis_section = {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix}
    gw = await aiproxy_gateway_factory(plugins={"billing": Billing()}, chain=[{"name": "billing"}], redis=redis_section)
    assert (await gw.chat("before")).status_code == 200
    ledger = plugin_of(gw).backend().ledger

    async def billed(count: int) -> bool:
        return await ledger.count(gw.tenant["id"]) == count

    await wait_for(lambda: billed(1))
    client = Redis(host="127.0.0.1", port=6379, decode_responses=True)
    try:
        queue_keys = [k async for k in client.scan_iter(match=f"{aiproxy_redis_prefix}:stq:*")]
        assert queue_keys, "the metering queue's stream exists"
        await client.delete(*queue_keys)  # what FLUSHDB does to it
    finally:
        await client.aclose()
    for n in range(3):
        assert (await gw.chat(f"after {n}")).status_code == 200
    await wait_for(lambda: billed(4))
