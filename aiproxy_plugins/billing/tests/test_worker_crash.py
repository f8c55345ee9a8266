"""Promise 5 on real Redis: a worker SIGKILLed mid-batch loses nothing and, after a restart, bills once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path


import yaml
from redis.asyncio import Redis

from aiproxy_sdk import run_aiproxy

from aiproxy_billing.events import BillingEvent
from aiproxy_billing.ledger_redis import RedisLedger
from aiproxy_billing.redis_queue import GROUP, RedisEventQueue

EVENTS = 600
TENANT = "t-crash"

# A worker whose batches stay written-but-unacknowledged for a while: where a crash hurts most.
SLOW_WORKER = """
import asyncio, sys
from redis.asyncio import Redis
from aiproxy_billing.ledger_redis import RedisLedger
from aiproxy_billing.redis_queue import RedisEventQueue
from aiproxy_billing.worker import RedisDrain, run_worker

class SlowLedger(RedisLedger):
    async def write(self, events):
        written = await super().write(events)
        print("written", len(events), flush=True)
        await asyncio.sleep(0.3)
        return written

async def main():
    redis = Redis(host="127.0.0.1", port=6379, decode_responses=True)
    prefix = sys.argv[1]
    drain = RedisDrain(RedisEventQueue(redis, prefix), SlowLedger(redis, prefix), batch_size=50)
    await run_worker(drain, asyncio.Event())

asyncio.run(main())
"""


def event(n: int) -> BillingEvent:
    return BillingEvent(
        request_id=f"req-{n}", tenant_id=TENANT, consumer_id="con_1", key_id="key_1", rule_id="rule_1",
        endpoint="/v1/chat/completions", model="gpt-4o-mini", input_tokens=3, output_tokens=2, status=200,
        latency_ms=1.0, timestamp="2025-05-0%dT12:00:00.000Z" % (1 + n % 3),
    )


async def test_sigkill_mid_batch_then_restart_bills_each_event_exactly_once(aiproxy_redis_prefix: str, tmp_path: Path) -> None:
    prefix = aiproxy_redis_prefix
    redis = Redis(host="127.0.0.1", port=6379, decode_responses=True)
    queue, ledger = RedisEventQueue(redis, prefix), RedisLedger(redis, prefix)
    try:
        for n in range(EVENTS):
            await queue.put(event(n))

        script = tmp_path / "slow_worker.py"
        script.write_text(SLOW_WORKER)
        worker = subprocess.Popen([sys.executable, str(script), prefix], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            assert worker.stdout is not None
            for _ in range(3):  # let three batches reach the ledger; the third is not yet acknowledged
                line = worker.stdout.readline()
                assert line.startswith(b"written"), line + worker.stdout.read(2000)
            os.kill(worker.pid, signal.SIGKILL)
        finally:
            worker.kill()
            worker.wait(timeout=10)

        in_ledger = await ledger.count(TENANT)
        pending = await queue.pending_count()
        assert 150 <= in_ledger < EVENTS, in_ledger
        assert pending >= 50, "the killed worker's last batch was written but never acknowledged"

        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({"redis": {"host": "127.0.0.1", "port": 6379, "prefix": prefix}}))
        restarted = run_aiproxy("billing-worker", "--config", str(config), "--once", "--claim-idle-ms", "0", cwd=tmp_path)
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr

        assert await ledger.count(TENANT) == EVENTS
        assert await queue.pending_count() == 0
        assert await redis.xlen(queue.stream) == 0  # acknowledged entries are deleted
        requests = 0
        for day in ("2025-05-01", "2025-05-02", "2025-05-03"):
            daily = await redis.hgetall(ledger.daily_key(TENANT, "con_1", day))
            requests += int(daily["requests"])
            assert int(daily["input_tokens"]) == 3 * int(daily["requests"])
        assert requests == EVENTS, "a replayed batch was counted twice"
        groups = await redis.xinfo_groups(queue.stream)
        assert [g["name"] for g in groups] == [GROUP]
    finally:
        await redis.aclose()


async def test_an_acknowledged_put_survives_a_worker_that_never_ran(aiproxy_redis_prefix: str, tmp_path: Path) -> None:
    """Events queued before any worker (or group) existed are still all delivered."""
    redis = Redis(host="127.0.0.1", port=6379, decode_responses=True)
    queue, ledger = RedisEventQueue(redis, aiproxy_redis_prefix), RedisLedger(redis, aiproxy_redis_prefix)
    try:
        for n in range(20):
            await queue.put(event(n))
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({"redis": {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix}}))
        done = run_aiproxy("billing-worker", "--config", str(config), "--once", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "moved 20" in done.stdout
        assert await ledger.count(TENANT) == 20
    finally:
        await redis.aclose()


async def test_the_embedded_worker_command_drains_the_outbox(tmp_path: Path) -> None:
    from aiproxy_billing.backend import open_backend

    store = open_backend(None, None, tmp_path)
    try:
        for n in range(15):
            await store.queue.put(event(n))
    finally:
        store.close()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"storage": {"path": str(tmp_path / "aiproxy.db")}}))
    done = run_aiproxy("billing-worker", "--config", str(config), "--once", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    store = open_backend(None, None, tmp_path)
    try:
        assert await store.ledger.count(TENANT) == 15
        assert await store.queue.size() == 0  # type: ignore[attr-defined]
    finally:
        store.close()
    await asyncio.sleep(0)




async def test_events_of_one_turn_share_an_entry_and_old_single_event_entries_still_drain(
    aiproxy_redis_prefix: str, tmp_path: Path
) -> None:
    """Concurrent puts travel as one stream entry; entries from before batching, and junk, are handled."""
    redis = Redis(host="127.0.0.1", port=6379, decode_responses=True)
    queue, ledger = RedisEventQueue(redis, aiproxy_redis_prefix), RedisLedger(redis, aiproxy_redis_prefix)
    try:
        await asyncio.gather(*(queue.put(event(n)) for n in range(50)))
        assert await redis.xlen(queue.stream) == 1
        await redis.xadd(queue.stream, {"event": event(50).to_json()})  # a gateway from before batching
        await redis.xadd(queue.stream, {"events": "not json"})
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({"redis": {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix}}))
        done = run_aiproxy("billing-worker", "--config", str(config), "--once", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "moved 51" in done.stdout
        assert "dropped a malformed queue entry" in done.stderr
        assert await ledger.count(TENANT) == 51
        assert await redis.xlen(queue.stream) == 0 and await queue.pending_count() == 0
    finally:
        await redis.aclose()


async def test_the_embedded_drain_skips_malformed_outbox_rows_and_keeps_the_rest(tmp_path: Path) -> None:
    from aiproxy_billing.backend import open_backend

    store = open_backend(None, None, tmp_path)
    try:
        await store.queue.put(event(1))
        assert store.database is not None
        for junk in ("not json", '{"tenant_id": "t-crash"}', '{"request_id": 5}'):
            store.database.run_now(lambda c: c.execute("INSERT INTO outbox (event) VALUES (?)", (junk,)))
        await store.queue.put(event(2))
        await store.queue.put(event(1))  # a replay: billed once
        moved = await store.drain().step(0)
        assert moved == 6  # every row left the outbox
        assert await store.queue.size() == 0  # type: ignore[attr-defined]
        assert await store.ledger.count(TENANT) == 2
        usage, _ = await store.ledger.days(TENANT, "con_1", [date(2025, 5, 2), date(2025, 5, 3)])
        assert usage["2025-05-02"].requests_by_endpoint == {"/v1/chat/completions": 1}
        assert usage["2025-05-03"].tokens_by_model == {"gpt-4o-mini": (3, 2)}
    finally:
        store.close()
