"""The limiter's counting on the core's state API, on every store it runs on: SQLite (embedded),
Redis over the script connection (as the gateway runs it) and Redis through redis-py."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from aiproxy_core import ScriptConnection
from aiproxy_core.state import Counters, StateService
from aiproxy_rate_limiter.counting import CounterUnavailable, Slot, acquire, settle
from aiproxy_rate_limiter.outage import Outage

TIMEOUT = 5.0


@pytest.fixture(params=["sqlite", "redis-scripts", "redis"])
async def counters(request: pytest.FixtureRequest, tmp_path: Path, redis_prefix: str) -> AsyncIterator[Counters]:
    if request.param == "sqlite":
        service = StateService(tmp_path)
    else:
        scripts = ScriptConnection("127.0.0.1", 6379) if request.param == "redis-scripts" else None
        # As the store builds its client: a burst beyond the pool waits for a free connection.
        pool = BlockingConnectionPool(host="127.0.0.1", port=6379, max_connections=64, timeout=5.0, decode_responses=True)
        service = StateService(tmp_path, redis=Redis(connection_pool=pool), scripts=scripts, prefix=redis_prefix)
    service.open()
    yield service.for_plugin("rate_limiter").counters("ten_test")
    service.close()
    if service.scripts is not None:
        await service.scripts.close()
    if service.redis is not None:
        await service.redis.aclose()


def slot(limit: int, seconds: int = 100_000) -> Slot:
    # Long windows: a test never crosses an aligned bucket boundary.
    return Slot(uuid.uuid4().hex, limit, seconds)


@pytest.mark.parametrize("kind", ["sliding", "fixed", "exact"])
async def test_many_at_once_admit_exactly_the_limit(counters: Counters, kind: Any) -> None:
    limited = slot(50)
    verdicts = await asyncio.gather(*(acquire(counters, Outage(), [limited], 1, kind, TIMEOUT) for _ in range(200)))
    assert sum(v[0].allowed for v in verdicts) == 50
    assert all(0 < v[0].retry_after <= 2 * limited.seconds for v in verdicts if not v[0].allowed)


async def test_a_request_is_counted_in_every_limit_or_in_none(counters: Counters) -> None:
    roomy, full = slot(10), slot(1)
    assert (await acquire(counters, Outage(), [full], 1, "sliding", TIMEOUT))[0].allowed
    refused = await acquire(counters, Outage(), [roomy, full], 1, "sliding", TIMEOUT)
    assert [(v.allowed, v.count, v.retry_after > 0) for v in refused] == [(False, 0, False), (False, 1, True)]
    assert (await acquire(counters, Outage(), [roomy], 1, "sliding", TIMEOUT))[0].count == 1


@pytest.mark.parametrize("kind", ["sliding", "exact"])
async def test_settling_replaces_the_charge_and_refunding_removes_it(counters: Counters, kind: Any) -> None:
    tokens = slot(1000)
    outage = Outage()
    assert (await acquire(counters, outage, [tokens], 100, kind, TIMEOUT))[0].count == 100
    assert (await acquire(counters, outage, [tokens], 100, kind, TIMEOUT))[0].count == 200
    await settle(counters, outage, [tokens], [100], 7, kind, TIMEOUT)
    await settle(counters, outage, [tokens], [100], 0, kind, TIMEOUT)
    assert (await acquire(counters, outage, [tokens], 1, kind, TIMEOUT))[0].count == 8
    await settle(counters, outage, [tokens], [1], 1494, kind, TIMEOUT)  # real usage may exceed the limit
    refused = await acquire(counters, outage, [tokens], 1, kind, TIMEOUT)
    assert not refused[0].allowed and refused[0].count == 1501


async def test_a_request_reserves_at_most_the_whole_limit(counters: Counters) -> None:
    tokens = slot(100)
    (verdict,) = await acquire(counters, Outage(), [tokens], 5000, "sliding", TIMEOUT)
    assert verdict.allowed and verdict.count == 100


async def test_an_unreachable_store_is_unavailable_and_pauses(tmp_path: Path) -> None:
    """Nothing listens on the port: the state API's ConnectionError becomes CounterUnavailable,
    and the next call does not ask again during the pause (on_error decides at once)."""
    for scripts in (ScriptConnection("127.0.0.1", 1), None):
        service = StateService(tmp_path, redis=Redis(port=1, decode_responses=True), scripts=scripts)
        counters = service.for_plugin("rate_limiter").counters("ten_test")
        outage = Outage()
        with pytest.raises(CounterUnavailable, match="Connect|Timeout"):
            await acquire(counters, outage, [slot(5)], 1, "sliding", TIMEOUT)
        with pytest.raises(CounterUnavailable, match="not asking again"):
            await acquire(counters, outage, [slot(5)], 1, "sliding", TIMEOUT)
        await service.redis.aclose()  # type: ignore[union-attr]
