"""A Redis restart (AOF, appendfsync always) loses nothing the billing queue acknowledged."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from aiproxy_billing import Billing
from aiproxy_billing.ledger_redis import RedisLedger
from aiproxy_billing.redis_queue import RedisEventQueue

BEFORE = 40
AFTER = 10


async def test_a_redis_restart_keeps_every_billed_request(
    aiproxy_gateway_factory: Any, durable_redis: Any, consumer: Any, wait_for: Any
) -> None:
    section = {"host": "127.0.0.1", "port": durable_redis.port, "prefix": "restart"}
    gw = await aiproxy_gateway_factory(plugins={"billing": Billing()}, chain=[{"name": "billing", "settings": {}}], redis=section)
    consumer_id, key = await consumer(gw)
    tenant = gw.tenant["id"]
    client = gw.proxy_client(key)

    async def call(n: int) -> None:
        answer = await client.post(
            "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            headers={"X-Request-ID": f"req-{n}"},
        )
        assert answer.status_code == 200, answer.text

    for n in range(BEFORE):
        await call(n)

    def connect() -> tuple[Redis, RedisLedger, RedisEventQueue]:
        redis = Redis(host="127.0.0.1", port=durable_redis.port, decode_responses=True)
        return redis, RedisLedger(redis, "restart"), RedisEventQueue(redis, "restart")

    redis, ledger, queue = connect()
    try:
        async def ledger_holds(n: int) -> bool:
            return await ledger.count(tenant) == n

        await wait_for(lambda: ledger_holds(BEFORE), 15)
        assert await queue.pending_count() == 0
        # Entries are keyed by the gateway's own request ids (never the client's X-Request-ID).
        billed_before = set(await redis.hkeys(ledger.ledger_key(tenant)))
        assert len(billed_before) == BEFORE and not billed_before & {f"req-{n}" for n in range(BEFORE)}
    finally:
        await redis.aclose()

    durable_redis.stop()  # SIGTERM; then start again on the same port and directory (the AOF)
    durable_redis.start()

    redis, ledger, queue = connect()
    try:
        assert await ledger.count(tenant) == BEFORE
        assert await queue.pending_count() == 0
        assert await redis.xlen(queue.stream) == 0
        assert set(await redis.hkeys(ledger.ledger_key(tenant))) == billed_before, "the ledger entries survived"

        for n in range(BEFORE, BEFORE + AFTER):  # the gateway and its worker reconnect
            await call(n)
        await wait_for(lambda: ledger_holds(BEFORE + AFTER), 15)
        assert await queue.pending_count() == 0
        fields = await redis.hkeys(ledger.ledger_key(tenant))
        assert len(set(fields)) == BEFORE + AFTER and billed_before <= set(fields)
        daily_keys = [k async for k in redis.scan_iter(match=f"restart:billing:daily:{tenant}:{consumer_id}:*")]
        assert sum([int(await redis.hget(k, "requests")) for k in daily_keys]) == BEFORE + AFTER  # each counted once
    finally:
        await redis.aclose()


async def test_a_flushed_stream_is_recreated_and_later_requests_are_billed(
    aiproxy_redis_prefix: str, aiproxy_gateway_factory: Any, plugin_of: Any, wait_for: Any
) -> None:
    """Redis flushed under a running gateway: the worker makes the consumer group again."""
    redis_section = {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix}
    gw = await aiproxy_gateway_factory(plugins={"billing": Billing()}, chain=[{"name": "billing"}], redis=redis_section)
    assert (await gw.chat("before")).status_code == 200
    ledger = plugin_of(gw).backend().ledger

    async def billed(count: int) -> bool:
        return await ledger.count(gw.tenant["id"]) == count

    await wait_for(lambda: billed(1))
    client = Redis(host="127.0.0.1", port=6379)
    try:
        await client.delete(f"{aiproxy_redis_prefix}:billing:events")  # what FLUSHDB does to it
    finally:
        await client.aclose()
    for n in range(3):
        assert (await gw.chat(f"after {n}")).status_code == 200
    await wait_for(lambda: billed(4))
