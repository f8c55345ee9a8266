"""The request-path fast path of the Redis values and queue: one write per event-loop turn.

With the process's script connection (``StateService(scripts=ScriptConnection(...))``, as the
gateway builds it) every call a request path makes is a script on that one hiredis connection,
and the calls of one event-loop turn, every plugin's and tenant's, reach Redis as one read.
Observed on a redis-server of the test's own (``PrivateRedis``: nothing else talks to it), by
Redis's own counters: ``INFO stats`` ``total_reads_processed`` (read events it handled) and
``INFO commandstats`` (the commands it ran). The suites (``test_values.py``, ``test_queue.py``)
run every guarantee on both paths ("redis" and "redis-scripts"); here the two paths also share
one store, each reading what the other wrote.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator, Awaitable

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from aiproxy_core.redis_scripts import ScriptConnection
from aiproxy_core.state import CompareAndSet, CounterRequest, Increment, SetIfAbsent, StateService, Values
from aiproxy_sdk.private_redis import PrivateRedis


@pytest.fixture
def private_redis(tmp_path: Path) -> "PrivateRedis":
    server = PrivateRedis(tmp_path).start()
    try:
        yield server  # type: ignore[misc]
    finally:
        server.kill()


@pytest.fixture
async def scripted(private_redis: PrivateRedis, tmp_path: Path) -> AsyncIterator[StateService]:
    """A service as the gateway builds it: the redis-py client and the script connection."""
    client = Redis(host="127.0.0.1", port=private_redis.port, decode_responses=True)
    scripts = ScriptConnection("127.0.0.1", private_redis.port)
    service = StateService(tmp_path, redis=client, scripts=scripts, prefix="t")
    service.open()
    yield service
    service.close()
    await scripts.close()
    await client.aclose()


class ServerCounts:
    """What the private Redis has handled so far, asked over one connection of its own (its
    ``INFO`` is one read of ``INFO_BYTES``; the counts it answers include the INFO before it)."""

    INFO = ("INFO", "stats", "commandstats")
    INFO_BYTES = len(b"*3\r\n$4\r\nINFO\r\n$5\r\nstats\r\n$12\r\ncommandstats\r\n")

    def __init__(self, port: int) -> None:
        self.client = Redis(host="127.0.0.1", port=port, decode_responses=True)

    async def now(self) -> dict[str, int]:
        info = await self.client.execute_command(*self.INFO)
        return {
            "reads": int(info["total_reads_processed"]),
            "bytes": int(info["total_net_input_bytes"]),
            "evalsha": int(info.get("cmdstat_evalsha", {}).get("calls", 0)),
            "xadd": int(info.get("cmdstat_xadd", {}).get("calls", 0)),
        }

    async def during(self, work: "Awaitable[object]") -> dict[str, int]:
        """What ``work`` cost Redis: read events, bytes received, EVALSHA calls (the commands a
        script runs count apart, under their own names), and XADDs (a script's included)."""
        before = await self.now()
        await work
        after = await self.now()
        return {
            "reads": after["reads"] - before["reads"] - 1,
            "bytes": after["bytes"] - before["bytes"] - self.INFO_BYTES,
            "evalsha": after["evalsha"] - before["evalsha"],
            "xadd": after["xadd"] - before["xadd"],
        }


@pytest.fixture
async def server_counts(private_redis: PrivateRedis) -> AsyncIterator[ServerCounts]:
    counts = ServerCounts(private_redis.port)
    await counts.now()  # connected before anything is measured
    yield counts
    await counts.client.aclose()


async def warm(values: Values) -> None:
    """Connected and every script loaded, so what is measured next is the calls alone."""
    await values.set("v", {"n": 0})
    await values.get("v")
    await values.set_if_absent("once", 1)
    await values.compare_and_set("v", {"n": 0}, {"n": 0})
    await values.increment("f", {"a": 1})
    await values.fields("f")
    await values.delete("gone")
    await values.atomic([SetIfAbsent("seen:0", 1, ttl=60), Increment("ledger", {"r": 1})])


def every_call(values: Values, n: int) -> list[Awaitable[object]]:
    return [
        values.get("v"),
        values.set(f"k{n}", {"n": n}, ttl=60),
        values.set_if_absent(f"once{n}", n),
        values.compare_and_set("v", {"n": 0}, {"n": 0}),
        values.increment("f", {"a": 1, "b": 2}),
        values.fields("f"),
        values.delete(f"gone{n}"),
        values.atomic([SetIfAbsent(f"seen:{n + 1}", 1, ttl=60), Increment("ledger", {"r": 1})]),
    ]


async def test_a_turns_value_calls_of_every_plugin_and_tenant_reach_redis_in_one_read(
    scripted: StateService, server_counts: ServerCounts
) -> None:
    namespaces = [scripted.for_plugin(name).values(tenant) for name in ("quota", "audit") for tenant in ("t1", "t2")]
    for values in namespaces:
        await warm(values)
    calls = [call for values in namespaces for n in range(3) for call in every_call(values, n)]
    results: list[object] = []

    async def turn() -> None:
        results.extend(await asyncio.gather(*calls))

    cost = await server_counts.during(turn())

    assert cost["bytes"] < 16384  # what Redis takes in one read: then one write is one read
    assert cost == {"reads": 1, "bytes": cost["bytes"], "evalsha": 96, "xadd": 0}
    for values in namespaces:  # and each call did its work
        assert await values.fields("f") == {"a": 4, "b": 6}
        assert await values.fields("ledger") == {"r": 4}
        assert await values.get("k2") == {"n": 2}
    assert results[:8] == [{"n": 0}, None, True, True, {"a": 2, "b": 2}, {"a": 2, "b": 2}, False, True]


async def test_a_large_turn_of_value_calls_costs_redis_a_few_reads_not_one_per_call(
    scripted: StateService, server_counts: ServerCounts
) -> None:
    values = scripted.for_plugin("quota").values("t1")
    await warm(values)
    calls = [call for n in range(50) for call in every_call(values, n)]
    cost = await server_counts.during(asyncio.gather(*calls))
    # 400 calls, ~60 KB: Redis reads at most 16 KiB a time, so a handful of reads (through
    # redis-py: one per call, 400 or more).
    assert cost["evalsha"] == 400
    assert cost["reads"] <= 20
    assert await values.fields("ledger") == {"r": 51}


async def test_a_turns_appends_to_several_queues_reach_redis_in_one_read(
    scripted: StateService, server_counts: ServerCounts
) -> None:
    billing = scripted.for_plugin("billing").queue("events")
    audit = scripted.for_plugin("audit").queue("events")
    await billing.append({"warm": 1})  # connected and the script loaded

    turn = asyncio.gather(*(billing.append({"n": n}) for n in range(300)), *(audit.append({"n": n}) for n in range(40)))
    cost = await server_counts.during(turn)

    # billing: 300 items make two entries (256 at most per entry), audit one: three plain XADDs
    # (no script), sent in one write by the two queues' flushes of the same turn.
    assert cost["bytes"] < 16384
    assert cost == {"reads": 1, "bytes": cost["bytes"], "evalsha": 0, "xadd": 3}
    items = [entry.item for entry in await billing.claim("g", "w", count=1000)]
    assert items == [{"warm": 1}] + [{"n": n} for n in range(300)]
    assert [entry.item for entry in await audit.claim("g", "w", count=1000)] == [{"n": n} for n in range(40)]


async def test_a_turns_counts_run_as_one_script_and_each_sees_the_ones_before_it(
    scripted: StateService, server_counts: ServerCounts
) -> None:
    """The sliding and fixed counts of one turn, of several plugins and tenants, are one EVALSHA
    (redis_count_batch.py), with the result of running them one after another: a limit is
    exact, a call is all or none over its own counters, a peek counts nothing."""
    a, b = scripted.for_plugin("limits").counters("t1"), scripted.for_plugin("quota").counters("t2")
    await a.add("warm", 1, limit=10, window=60)  # connected and the script loaded
    calls = []
    for n in range(40):
        calls.append(a.add("busy", 1, limit=25, window=60))  # one busy consumer: 25 fit, 15 do not
        calls.append(b.add_all([CounterRequest("day", 2, limit=1000, window=86400, kind="fixed"),
                                CounterRequest("minute", 1, limit=30, window=60)]))
    calls.append(a.add_all([CounterRequest("spared", 5, limit=100, window=60), CounterRequest("busy", 1, limit=25, window=60)]))
    calls.append(a.peek("busy", limit=25, window=60))
    verdicts: list[object] = []

    async def turn() -> None:
        verdicts.extend(await asyncio.gather(*calls))

    cost = await server_counts.during(turn())
    assert cost["evalsha"] == 1 and cost["reads"] == 1
    busy = verdicts[0:80:2]
    assert [v.allowed for v in busy] == [True] * 25 + [False] * 15  # type: ignore[attr-defined]
    assert [v.count for v in busy[:25]] == list(range(1, 26))  # type: ignore[attr-defined]
    pairs = verdicts[1:80:2]
    assert [all(v.allowed for v in pair) for pair in pairs] == [True] * 30 + [False] * 10  # type: ignore[attr-defined]
    spared, busy_again = verdicts[80]  # type: ignore[misc]
    assert not spared.allowed and not busy_again.allowed and spared.count == 0  # all or none
    assert verdicts[81].count == 25 and verdicts[81].allowed is False  # type: ignore[attr-defined]
    # What was written is what the verdicts said, read back by one call after the turn.
    assert (await a.peek("busy", limit=100, window=60)).count == 25
    assert (await a.peek("spared", limit=100, window=60)).count == 0
    assert (await b.peek("day", limit=1000, window=86400, kind="fixed")).count == 60
    assert (await b.peek("minute", limit=30, window=60)).count == 30


async def test_appends_over_a_script_connection_that_cannot_connect_all_fail(tmp_path: Path) -> None:
    # The redis-py client works; the script connection (nothing listens on port 1) does not:
    # the appends go over the script connection, so every appender of the turn learns its
    # item was not written.
    client = Redis(host="127.0.0.1", port=6379, decode_responses=True)
    dead = ScriptConnection("127.0.0.1", 1)
    service = StateService(tmp_path, redis=client, scripts=dead, prefix="unused-never-written")
    try:
        queue = service.for_plugin("p").queue("q")
        results = await asyncio.gather(*(queue.append({"n": n}) for n in range(50)), return_exceptions=True)
        assert all(isinstance(result, ConnectionError) for result in results), results
        with pytest.raises(ConnectionError):
            await service.for_plugin("p").values("t1").get("k")
    finally:
        await dead.close()
        await client.aclose()


async def test_both_paths_read_what_the_other_wrote_equal_with_its_types(
    scripted: StateService, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    # A second service on the same data without a script connection (redis-py only, as on a
    # Redis Cluster): the encoding and the replies are the same on both paths.
    client = Redis(host="127.0.0.1", port=private_redis.port, decode_responses=True)
    plain = StateService(tmp_path / "plain", redis=client, prefix="t")
    fast, slow = scripted.for_plugin("p").values("t1"), plain.for_plugin("p").values("t1")
    stored = {"dict": {"a": [1, 2.5, None, True], "ü": "漢字"}, "bytes": b"\x00\xff\x80", "none": None, "float": 1.0, "int": 1}
    try:
        for writer, reader in ((fast, slow), (slow, fast)):
            for key, value in stored.items():
                await writer.set(key, value, ttl=60)
                read = await reader.get(key)
                assert read == value and type(read) is type(value)
            assert await writer.increment("rec", {"a": 1, "b": -2}) == await reader.fields("rec")
            assert await reader.compare_and_set("dict", stored["dict"], "x") is True
            assert await writer.get("dict") == "x"
            assert await writer.atomic([CompareAndSet("dict", "x", stored["dict"]), Increment("rec", {"a": 1})])
            assert await reader.fields("rec") == await writer.fields("rec")
            for values in (writer, reader):  # the same refusals, the same words
                with pytest.raises(ValueError, match="holds integer fields .* read it with fields"):
                    await values.get("rec")
                with pytest.raises(ValueError, match=r"holds a value \(written by set\): read it with get"):
                    await values.fields("int")
                with pytest.raises(ValueError, match="holds a value .* nothing was changed"):
                    await values.increment("int", {"a": 1})
            assert await writer.delete("rec") and not await reader.delete("rec")
        assert await fast.get("absent") is None and await slow.get("absent") is None
        assert await fast.fields("absent") == {} and await slow.fields("absent") == {}
    finally:
        plain.close()
        await client.aclose()


@pytest.mark.parametrize("fast_path", [True, False], ids=["script-connection", "redis-py"])
async def test_an_unreachable_store_raises_the_builtin_connection_error_on_both_paths(tmp_path: Path, fast_path: bool) -> None:
    # Nothing listens on port 1. A plugin that fails open or closed on an outage catches
    # ConnectionError whichever client carries its calls (redis-py's own exception is not one).
    client = Redis(host="127.0.0.1", port=1, decode_responses=True, retry=Retry(NoBackoff(), 0))  # fail at once
    dead = ScriptConnection("127.0.0.1", 1) if fast_path else None
    service = StateService(tmp_path, redis=client, scripts=dead, prefix="unused-never-written")
    values = service.for_plugin("p").values("t1")
    try:
        for call in (values.get("k"), values.set("k", 1), values.increment("f", {"a": 1}), values.atomic([SetIfAbsent("k", 1)])):
            with pytest.raises(ConnectionError):
                await call
        appended = await asyncio.gather(*(service.for_plugin("p").queue("q").append(n) for n in range(5)), return_exceptions=True)
        assert all(isinstance(result, ConnectionError) for result in appended), appended
    finally:
        if dead is not None:
            await dead.close()
        await client.aclose()
