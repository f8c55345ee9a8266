"""The two counters, side by side: the Lua scripts on a real Redis and their twin in memory."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, AsyncIterator

import pytest
from redis.asyncio import Redis

from aiproxy_rate_limiter.counting import Counter, Slot
from aiproxy_rate_limiter.memory_counter import MemoryCounter
from aiproxy_rate_limiter.redis_counter import RedisCounter
from aiproxy_core import ScriptConnection

TIMEOUT = 5.0


@pytest.fixture(params=["memory", "redis"])
async def counter(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Counter]:
    if request.param == "memory":
        yield MemoryCounter()
        return
    connection = ScriptConnection("127.0.0.1", 6379)
    yield RedisCounter(connection, redis_prefix)
    await connection.close()


def slot(limit: int, window_ms: int = 60_000) -> Slot:
    return Slot(f"rl:{{ten_test}}:{uuid.uuid4().hex}", limit, window_ms)


def member() -> str:
    return uuid.uuid4().hex


async def test_many_at_once_admit_exactly_the_limit(counter: Counter) -> None:
    limited = slot(50)
    verdicts = await asyncio.gather(*(counter.acquire([limited], member(), 1, TIMEOUT) for _ in range(200)))
    assert sum(v.allowed for v in verdicts) == 50
    refused = [v for v in verdicts if not v.allowed]
    assert all(0 < v.retry_ms <= 60_000 for v in refused)


async def test_a_request_is_counted_in_every_limit_or_in_none(counter: Counter) -> None:
    roomy, full = slot(10), slot(1)
    assert (await counter.acquire([full], member(), 1, TIMEOUT)).allowed
    refused = await counter.acquire([roomy, full], member(), 1, TIMEOUT)
    assert not refused.allowed
    assert [(s.used, s.charged) for s in refused.slots] == [(0, 0), (1, 0)]
    admitted = await counter.acquire([roomy], member(), 1, TIMEOUT)
    assert admitted.slots[0].used == 1


async def test_settling_replaces_the_charge_and_refunding_removes_it(counter: Counter) -> None:
    tokens = slot(1000)
    first, second = member(), member()
    assert (await counter.acquire([tokens], first, 100, TIMEOUT)).slots[0].used == 100
    assert (await counter.acquire([tokens], second, 100, TIMEOUT)).slots[0].used == 200
    await counter.settle([tokens], first, [100], 7, TIMEOUT)
    await counter.settle([tokens], second, [100], 0, TIMEOUT)
    assert (await counter.acquire([tokens], member(), 1, TIMEOUT)).slots[0].used == 8
    await counter.settle([tokens], first, [7], 1500, TIMEOUT)  # real usage may exceed the limit
    refused = await counter.acquire([tokens], member(), 1, TIMEOUT)
    assert not refused.allowed and refused.slots[0].used == 1501


async def test_a_request_reserves_at_most_the_whole_limit(counter: Counter) -> None:
    tokens = slot(100)
    verdict = await counter.acquire([tokens], member(), 5000, TIMEOUT)
    assert verdict.allowed and verdict.slots[0].charged == 100


async def test_retry_is_when_enough_of_the_oldest_have_left(counter: Counter) -> None:
    tokens = slot(10, window_ms=30_000)
    for cost in (4, 4, 2):
        assert (await counter.acquire([tokens], member(), cost, TIMEOUT)).allowed
    refused = await counter.acquire([tokens], member(), 5, TIMEOUT)
    assert not refused.allowed
    # Freeing the oldest 4 is not enough for 5; the second entry must go too: ~one window from now.
    assert 29_000 < refused.retry_ms <= 30_000
    assert 29_000 < refused.slots[0].reset_ms <= 30_000


async def test_redis_keys_live_under_the_prefix_with_the_tenant_and_expire(redis_prefix: str) -> None:
    client = Redis(host="127.0.0.1", port=6379, decode_responses=True)
    connection = ScriptConnection("127.0.0.1", 6379)
    try:
        counter = RedisCounter(connection, redis_prefix)
        limited = slot(5, window_ms=10_000)
        await counter.acquire([limited], member(), 1, TIMEOUT)
        keys = sorted(await client.keys(f"{redis_prefix}:*"))
        assert keys == [f"{redis_prefix}:{limited.name}", f"{redis_prefix}:{limited.name}:total"]
        assert all(k.startswith(f"{redis_prefix}:rl:{{ten_test}}:") for k in keys)
        assert all(0 < ttl <= 10_000 for ttl in [await client.pttl(k) for k in keys])
        # Entries are stamped with Redis's clock, not this process's.
        (_, score), = await client.zrange(keys[0], 0, -1, withscores=True)
        seconds, micros = await client.time()
        assert abs(seconds * 1000 + micros // 1000 - score) < 1000
    finally:
        await connection.close()
        await client.aclose()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


async def test_memory_windows_slide_to_the_millisecond() -> None:
    clock = FakeClock()
    counter = MemoryCounter(clock=clock)
    limited = slot(2, window_ms=1000)
    assert (await counter.acquire([limited], member(), 1, TIMEOUT)).allowed
    clock.now += 400
    assert (await counter.acquire([limited], member(), 1, TIMEOUT)).allowed
    clock.now += 599
    refused = await counter.acquire([limited], member(), 1, TIMEOUT)
    assert (refused.allowed, refused.retry_ms, refused.slots[0].reset_ms) == (False, 1, 1)
    clock.now += 1  # the first hit leaves exactly one window after it was counted
    admitted = await counter.acquire([limited], member(), 1, TIMEOUT)
    assert admitted.allowed and admitted.slots[0].used == 2 and admitted.slots[0].reset_ms == 400
    clock.now += 5000
    assert (await counter.acquire([limited], member(), 1, TIMEOUT)).slots[0].used == 1


async def test_memory_settlement_after_the_window_changes_nothing() -> None:
    clock = FakeClock()
    counter = MemoryCounter(clock=clock)
    limited = slot(10, window_ms=1000)
    old: Any = member()
    await counter.acquire([limited], old, 5, TIMEOUT)
    clock.now += 1000
    await counter.settle([limited], old, [5], 9, TIMEOUT)
    assert (await counter.acquire([limited], member(), 1, TIMEOUT)).slots[0].used == 1
