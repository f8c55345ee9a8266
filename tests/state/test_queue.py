"""The state API's queue on every backend: durable append batched per turn, worker groups, reclaim
of a dead worker's items, acknowledgement that removes what every group is done with.

What is stored is checked where the backend keeps it (the stream's XLEN, the SQLite rows), so
"the queue does not grow with traffic" and "one write per turn" are facts, not hopes.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from aiproxy_core.state.api import Queue, QueueEntry
from aiproxy_core.state.redis_queue import MAX_ITEMS_PER_ENTRY
from aiproxy_core.state.service import StateService

ROOT = Path(__file__).resolve().parents[2]

# -- what the backend holds ---------------------------------------------------------------------


async def stored_entries(service: StateService, plugin: str, name: str) -> int:
    """Stream entries (Redis) or item rows (SQLite) the queue holds now."""
    if service.redis is not None:
        return int(await service.redis.xlen(service.keys.queue(plugin, name)))
    assert service.db is not None
    return int(service.db.conn.execute("SELECT COUNT(*) FROM state_queue_items WHERE plugin = ? AND queue = ?", (plugin, name)).fetchone()[0])


async def stored_leftovers(service: StateService, plugin: str, name: str) -> int:
    """Bookkeeping beside the items: partial-ack marks (Redis) or claim rows (SQLite)."""
    if service.redis is not None:
        return int(await service.redis.hlen(service.keys.queue(plugin, name) + ":acks"))
    assert service.db is not None
    return int(service.db.conn.execute("SELECT COUNT(*) FROM state_queue_claims WHERE plugin = ? AND queue = ?", (plugin, name)).fetchone()[0])


async def claim_all(queue: Queue, group: str, worker: str, **options: float) -> list[QueueEntry]:
    entries: list[QueueEntry] = []
    while batch := await queue.claim(group, worker, count=100, **options):  # type: ignore[arg-type]
        entries.extend(batch)
    return entries


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll ``check`` until true; fail after ``within`` seconds (a bound, not a speed claim)."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.05)


ITEMS = [
    {"tenant_id": "t1", "tokens": 12, "nested": {"list": [1, 2.5, None, True], "text": "héllo ✓"}},
    [1, "two", 3.0],
    "a string with \x01 control and \u2028 separators",
    0,
    -(2**62),
    1.0,
    True,
    None,
    b"\x00\xff raw bytes, not UTF-8 \x80",
    b"",
]


# -- append, claim, ack ---------------------------------------------------------------------------


async def test_items_round_trip_with_their_types(state_backend: StateService) -> None:
    queue = state_backend.for_plugin("billing").queue("events")
    for item in ITEMS:
        await queue.append(item)
    entries = await queue.claim("ledger", "w1")
    assert [entry.item for entry in entries] == ITEMS
    assert [type(entry.item) for entry in entries] == [type(item) for item in ITEMS]  # 1.0 stays float, bytes stay bytes
    assert all(entry.attempts == 1 for entry in entries)
    assert len({entry.id for entry in entries}) == len(ITEMS)
    await queue.ack("ledger", [entry.id for entry in entries])
    assert await queue.claim("ledger", "w1") == []
    assert await queue.backlog("ledger") == 0
    assert await stored_entries(state_backend, "billing", "events") == 0


async def test_a_bad_item_fails_only_its_own_append(state_backend: StateService) -> None:
    queue = state_backend.for_plugin("p").queue("q")
    results = await asyncio.gather(
        queue.append({"ok": 1}), queue.append({"a set": {1, 2}}), queue.append(float("nan")), queue.append({"ok": 2}), return_exceptions=True
    )
    assert results[0] is None and results[3] is None
    assert isinstance(results[1], ValueError) and "set" in str(results[1])
    assert isinstance(results[2], ValueError) and "NaN" in str(results[2])
    assert [entry.item for entry in await queue.claim("g", "w")] == [{"ok": 1}, {"ok": 2}]


async def test_an_appender_cancelled_mid_turn_does_not_cancel_the_others(state_backend: StateService) -> None:
    """A request cancelled while its append waits for the turn's write (a client left): the other
    appenders of that turn are written and told so; the cancelled one's item is written too (the
    write was already under way for the turn), so a queue is at least once, never lossy."""
    queue = state_backend.for_plugin("billing").queue("events")
    appends = [asyncio.ensure_future(queue.append({"n": n})) for n in range(10)]
    await asyncio.sleep(0)  # every append has joined the turn's batch
    appends[3].cancel()
    results = await asyncio.gather(*appends, return_exceptions=True)
    assert isinstance(results[3], asyncio.CancelledError)
    assert [r for i, r in enumerate(results) if i != 3] == [None] * 9
    entries = await queue.claim("ledger", "w1", count=100)
    assert sorted(entry.item["n"] for entry in entries) == list(range(10))


async def test_a_failed_write_reaches_every_appender_of_the_turn(state_backend: StateService) -> None:
    if state_backend.redis is not None:
        # A queue on a Redis that does not answer (nothing listens on port 1).
        dead = aioredis.Redis(host="127.0.0.1", port=1, decode_responses=True)
        from aiproxy_core.state.redis_queue import RedisQueue

        queue: Queue = RedisQueue(dead, None, state_backend.keys, "p", "q")
    else:
        queue = state_backend.for_plugin("p").queue("q")
        state_backend.close()  # the state file is gone from under the queue
    results = await asyncio.gather(*(queue.append({"n": n}) for n in range(50)), return_exceptions=True)
    assert all(isinstance(result, Exception) for result in results), results
    assert len({type(result) for result in results}) == 1
    if state_backend.redis is not None:
        await dead.aclose()


async def test_items_appended_in_one_turn_are_written_together(state_backend: StateService) -> None:
    queue = state_backend.for_plugin("p").queue("q")
    writes: list[str] = []
    if state_backend.db is not None:
        state_backend.db.conn.set_trace_callback(lambda sql: writes.append(sql) if sql.startswith("BEGIN") else None)
    await asyncio.gather(*(queue.append({"n": n}) for n in range(500)))
    if state_backend.db is not None:
        state_backend.db.conn.set_trace_callback(None)
        assert len(writes) == 1  # one INSERT transaction for the whole turn
    # Redis: one XADD per MAX_ITEMS_PER_ENTRY items (one pipeline); SQLite: 500 rows.
    expected = math.ceil(500 / MAX_ITEMS_PER_ENTRY) if state_backend.redis is not None else 500
    assert await stored_entries(state_backend, "p", "q") == expected
    entries = await claim_all(queue, "g", "w")
    assert sorted(entry.item["n"] for entry in entries) == list(range(500))  # each exactly once
    assert len({entry.id for entry in entries}) == 500


async def test_claim_count_is_kept_across_entries(state_backend: StateService) -> None:
    queue = state_backend.for_plugin("p").queue("q")
    for turn in range(5):  # five turns of ten items: five entries on Redis
        await asyncio.gather(*(queue.append({"turn": turn, "n": n}) for n in range(10)))
    first = await queue.claim("g", "w", count=25)
    # Entries are claimed whole on Redis: never a turn cut in half; the claim stops at the entry
    # that reaches count (SQLite: exactly count).
    assert len(first) == (30 if state_backend.redis is not None else 25)
    rest = await claim_all(queue, "g", "w")
    assert sorted((e.item["turn"], e.item["n"]) for e in first + rest) == [(t, n) for t in range(5) for n in range(10)]


async def test_two_workers_of_one_group_share_the_items(state_backend: StateService) -> None:
    queue = state_backend.for_plugin("p").queue("q")
    for start in range(0, 300, 30):
        await asyncio.gather(*(queue.append(n) for n in range(start, start + 30)))
    seen: dict[str, list[int]] = {"a": [], "b": []}

    async def work(worker: str) -> None:
        while batch := await queue.claim("g", worker, count=20):
            seen[worker].extend(entry.item for entry in batch)
            await queue.ack("g", [entry.id for entry in batch])
            await asyncio.sleep(0)

    await asyncio.gather(work("a"), work("b"))
    assert seen["a"] and seen["b"]
    assert sorted(seen["a"] + seen["b"]) == list(range(300))  # no item twice, none lost
    assert await stored_entries(state_backend, "p", "q") == 0


async def test_each_group_sees_every_item_and_only_all_acks_remove_it(state_backend: StateService) -> None:
    queue = state_backend.for_plugin("p").queue("q")
    await asyncio.gather(*(queue.append(n) for n in range(300)))
    ledger = await claim_all(queue, "ledger", "w")
    export = await claim_all(queue, "export", "w")
    assert sorted(e.item for e in ledger) == sorted(e.item for e in export) == list(range(300))
    await queue.ack("ledger", [e.id for e in ledger])
    assert await queue.backlog("ledger") == 0
    assert await queue.backlog("export") == 300
    assert await stored_entries(state_backend, "p", "q") > 0  # export still holds them
    await queue.ack("export", [e.id for e in export])
    # N appended and acknowledged by every group: nothing left, the queue does not grow.
    assert await stored_entries(state_backend, "p", "q") == 0
    assert await stored_leftovers(state_backend, "p", "q") == 0


async def test_a_dead_workers_items_are_reclaimed_after_reclaim_after(state_backend: StateService) -> None:
    queue = state_backend.for_plugin("p").queue("q")
    await asyncio.gather(*(queue.append(n) for n in range(10)))
    held = await queue.claim("g", "doomed", reclaim_after=0.3)
    assert [e.item for e in held] == list(range(10))
    # Claimed just now: not another worker's yet.
    assert await queue.claim("g", "heir", reclaim_after=30) == []
    reclaimed: list[QueueEntry] = []

    async def taken_over() -> bool:
        reclaimed.extend(await queue.claim("g", "heir", reclaim_after=0.3))
        return bool(reclaimed)

    await eventually(taken_over)
    assert sorted(e.id for e in reclaimed) == sorted(e.id for e in held)
    assert [e.item for e in sorted(reclaimed, key=lambda e: e.item)] == list(range(10))
    assert all(e.attempts == 2 for e in reclaimed)  # attempts counts claims
    await queue.ack("g", [e.id for e in reclaimed])
    assert await queue.backlog("g") == 0
    assert await stored_entries(state_backend, "p", "q") == 0


async def test_batches_name_the_append_and_come_back_whole_on_reclaim(state_backend: StateService) -> None:
    """``QueueEntry.batch``: what a consumer may key an idempotent write by. Items appended in one
    turn share it on Redis (one stream entry), each item has its own on SQLite; a reclaim hands the
    same batches back; a later append, or another queue of the plugin, never reuses one."""
    state = state_backend.for_plugin("p")
    queue, other = state.queue("q"), state.queue("q2")
    await asyncio.gather(*(queue.append(n) for n in range(6)))
    await asyncio.gather(*(other.append(n) for n in range(6)))
    await asyncio.gather(*(queue.append(n) for n in range(6, 9)))
    held = await claim_all(queue, "g", "doomed")
    batches = {e.batch for e in held}
    if state_backend.redis is not None:
        assert len(batches) == 2 and len({e.batch for e in held[:6]}) == 1
    else:
        assert len(batches) == 9  # one per item
    assert all(e.batch.startswith("q/") for e in held)
    assert not batches & {e.batch for e in await claim_all(other, "g", "w")}
    reclaimed: list[QueueEntry] = []

    async def taken_over() -> bool:
        reclaimed.extend(await queue.claim("g", "heir", count=100, reclaim_after=0.2))
        return len(reclaimed) == 9

    await eventually(taken_over)
    assert {(e.id, e.batch) for e in reclaimed} == {(e.id, e.batch) for e in held}
    await queue.ack("g", [e.id for e in reclaimed])
    await queue.append("later")
    (later,) = await queue.claim("g", "w")
    assert later.batch not in batches
    assert QueueEntry("x", 1).batch == "x"  # built by hand: its own batch


async def test_what_a_dead_worker_acknowledged_is_not_handed_out_again(state_backend: StateService) -> None:
    queue = state_backend.for_plugin("p").queue("q")
    await asyncio.gather(*(queue.append(n) for n in range(10)))  # one entry on Redis
    held = await queue.claim("g", "doomed")
    await queue.ack("g", [e.id for e in held[:4]])
    assert await queue.backlog("g") == 6
    reclaimed: list[QueueEntry] = []

    async def taken_over() -> bool:
        reclaimed.extend(await queue.claim("g", "heir", reclaim_after=0.2))
        return bool(reclaimed)

    await eventually(taken_over)
    assert sorted(e.item for e in reclaimed) == list(range(4, 10))
    await queue.ack("g", [e.id for e in reclaimed])
    assert await stored_entries(state_backend, "p", "q") == 0
    assert await stored_leftovers(state_backend, "p", "q") == 0


async def test_backlog_counts_what_a_group_has_not_acknowledged(state_backend: StateService) -> None:
    queue = state_backend.for_plugin("p").queue("q")
    assert await queue.backlog("g") == 0
    for n in range(10):
        await queue.append(n)  # ten turns: ten entries on Redis
    assert await queue.backlog("g") == 10  # a group that never claimed would get all of them
    first = await queue.claim("g", "w", count=4)
    assert len(first) == 4
    assert await queue.backlog("g") == 10  # claimed is not acknowledged
    await queue.ack("g", [e.id for e in first[:3]])
    assert await queue.backlog("g") == 7
    await queue.ack("g", [first[0].id, "999999999999" if state_backend.db is not None else "1-0:0"])  # again / never held: no change
    assert await queue.backlog("g") == 7
    # A group made now gets what is still queued: the 3 every group (g) acknowledged are gone.
    other = await queue.claim("h", "w", count=1)
    assert len(other) == 1 and await queue.backlog("h") == 7
    rest = await claim_all(queue, "g", "w")
    await queue.ack("g", [first[3].id] + [e.id for e in rest])
    assert await queue.backlog("g") == 0
    assert await queue.backlog("h") == 7  # still there for h
    assert await stored_entries(state_backend, "p", "q") == 7


async def test_queues_of_other_names_and_plugins_are_apart(state_backend: StateService) -> None:
    mine = state_backend.for_plugin("p").queue("q")
    await mine.append("p/q")
    await state_backend.for_plugin("p").queue("other").append("p/other")
    await state_backend.for_plugin("p2").queue("q").append("p2/q")
    assert [e.item for e in await mine.claim("g", "w")] == ["p/q"]
    assert [e.item for e in await state_backend.for_plugin("p2").queue("q").claim("g", "w")] == ["p2/q"]
    assert await state_backend.for_plugin("p").queue("other").backlog("g") == 1


async def test_bad_arguments_are_refused_with_what_to_fix(state_backend: StateService) -> None:
    queue = state_backend.for_plugin("p").queue("q")
    with pytest.raises(ValueError, match="count"):
        await queue.claim("g", "w", count=0)
    with pytest.raises(ValueError, match="reclaim_after"):
        await queue.claim("g", "w", reclaim_after=-1)
    with pytest.raises(ValueError, match="group"):
        await queue.claim("", "w")
    with pytest.raises(ValueError, match="QueueEntry.id"):
        await queue.ack("g", ["not-an-id"])


# -- durability -----------------------------------------------------------------------------------


async def test_the_queue_survives_reopening(state_storage: Any) -> None:
    state_backend = await state_storage.service()
    queue = state_backend.for_plugin("p").queue("q")
    for n in range(5):
        await queue.append({"n": n})
    held = await queue.claim("g", "w", count=2)
    assert [e.item["n"] for e in held] == [0, 1]
    await state_storage.shut(state_backend)  # the gateway stops; another starts on the same data
    again = await state_storage.service()
    fresh = again.for_plugin("p").queue("q")
    assert await fresh.backlog("g") == 5
    # The group's place survived: what was handed out is not new again, the rest is.
    rest = await fresh.claim("g", "w2", reclaim_after=30)
    assert [e.item["n"] for e in rest] == [2, 3, 4]
    await fresh.ack("g", [e.id for e in rest])
    reclaimed: list[QueueEntry] = []

    async def taken_over() -> bool:
        reclaimed.extend(await fresh.claim("g", "w2", reclaim_after=0.2))
        return len(reclaimed) >= len(held)

    await eventually(taken_over)
    assert sorted(e.id for e in reclaimed) == sorted(e.id for e in held)


async def test_a_flushed_stream_is_made_again_on_the_next_claim(state_backend: StateService) -> None:
    if state_backend.redis is None:
        pytest.skip("Redis only: a SQLite file is not flushed from under the gateway")  # the SQLite run proves nothing here
    queue = state_backend.for_plugin("p").queue("q")
    await queue.append("before")
    assert [e.item for e in await queue.claim("g", "w")] == ["before"]
    stream = state_backend.keys.queue("p", "q")
    await state_backend.redis.delete(stream, stream + ":acks")  # what FLUSHALL or a restart without persistence does to it
    assert await queue.claim("g", "w") == []  # no NOGROUP error: the group is made again
    await queue.append("after")
    assert [e.item for e in await queue.claim("g", "w")] == ["after"]
    # Appended after the flush but before any claim: the stream exists, the group does not.
    await state_backend.redis.delete(stream)
    await queue.append("again")
    assert [e.item for e in await queue.claim("g", "w")] == ["again"]


# -- exactly once with a worker killed mid-batch --------------------------------------------------

_DOOMED_WORKER = textwrap.dedent(
    """
    import asyncio, sqlite3, sys, time
    from pathlib import Path
    from aiproxy_core.state.service import StateService

    backend, where, host, port, prefix, sink_path = sys.argv[1:7]

    async def main():
        if backend == "redis":
            import redis.asyncio as aioredis
            client = aioredis.Redis(host=host, port=int(port), decode_responses=True)
            service = StateService(Path(where), redis=client, prefix=prefix)
        elif backend == "cluster":
            from redis.asyncio.cluster import RedisCluster
            client = RedisCluster(host=host, port=int(port), decode_responses=True)
            service = StateService(Path(where), redis=client, prefix=prefix)
        else:
            service = StateService(Path(where))
        service.open()
        queue = service.for_plugin("billing").queue("events")
        batch = await queue.claim("ledger", "doomed", count=100)
        sink = sqlite3.connect(sink_path, isolation_level=None)
        # Half the batch reaches the sink, a quarter is acknowledged: then the worker is killed.
        for entry in batch[: len(batch) // 2]:
            sink.execute("INSERT OR IGNORE INTO sink (item_key, amount) VALUES (?, ?)", (entry.item["key"], entry.item["amount"]))
        await queue.ack("ledger", [entry.id for entry in batch[: len(batch) // 4]])
        print(len(batch), flush=True)
        time.sleep(3600)

    asyncio.run(main())
    """
)


async def test_exactly_once_with_an_idempotent_sink_when_a_worker_is_killed_mid_batch(
    state_storage: Any, state_backend: StateService, tmp_path: Path
) -> None:
    sink_path = tmp_path / "sink.db"
    sink = sqlite3.connect(sink_path, isolation_level=None)
    sink.execute("CREATE TABLE sink (item_key TEXT PRIMARY KEY, amount INTEGER NOT NULL)")
    queue = state_backend.for_plugin("billing").queue("events")
    for start in range(0, 200, 40):  # five turns of 40 billing events
        await asyncio.gather(*(queue.append({"key": f"req-{n}", "amount": n}) for n in range(start, start + 40)))

    if state_storage.name == "cluster":
        node = state_storage.cluster.startup_node
        args = ["cluster", str(tmp_path), node.host, str(node.port), state_storage.prefix]
    elif state_storage.name == "redis":
        args = ["redis", str(tmp_path), "127.0.0.1", "6379", state_storage.prefix]
    else:
        args = ["sqlite", str(tmp_path), "", "0", ""]
    worker = subprocess.Popen(
        [sys.executable, "-c", _DOOMED_WORKER, *args, str(sink_path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert worker.stdout is not None
        line = await asyncio.to_thread(worker.stdout.readline)
        assert line.strip(), "the doomed worker died before claiming"
        claimed_by_doomed = int(line)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL
    # count=100: three whole entries of 40 on Redis (the claim stops at the one that reaches it).
    assert claimed_by_doomed == (100 if state_storage.name == "sqlite" else 120)

    # The successor: idempotent writes first, acknowledgement after.
    attempts: list[int] = []

    async def drained() -> bool:
        batch = await queue.claim("ledger", "heir", count=50, reclaim_after=0.3)
        for entry in batch:
            sink.execute("INSERT OR IGNORE INTO sink (item_key, amount) VALUES (?, ?)", (entry.item["key"], entry.item["amount"]))
            attempts.append(entry.attempts)
        await queue.ack("ledger", [entry.id for entry in batch])
        return await queue.backlog("ledger") == 0

    await eventually(drained, within=20)
    rows = sink.execute("SELECT COUNT(*), SUM(amount) FROM sink").fetchone()
    assert rows == (200, sum(range(200)))  # every event once: none lost, none counted twice
    assert attempts.count(2) == claimed_by_doomed - claimed_by_doomed // 4  # the dead worker's unacknowledged items, redelivered
    assert await stored_entries(state_backend, "billing", "events") == 0
    sink.close()
