"""Promise 5 on every backend (SQLite, one Redis, a real Redis Cluster): a worker SIGKILLed
mid-batch loses nothing and, after a restart, bills each event exactly once; Redis keeps only
what configuration bounds once the queue is drained."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from aiproxy_billing.cli import opened_backend
from aiproxy_billing.events import BillingEvent
from aiproxy_core import GatewayConfig
from aiproxy_sdk import run_aiproxy
from aiproxy_sdk.redis_space import drop_prefix, new_prefix, require_redis

EVENTS = 600
TENANT = "t-crash"

# A worker whose batches stay written-but-unacknowledged for a while: where a crash hurts most.
SLOW_WORKER = """
import asyncio, sys
from aiproxy_core import load_config
from aiproxy_billing.cli import opened_backend
from aiproxy_billing.worker import run_worker

async def main():
    async with opened_backend(load_config(sys.argv[1])) as (backend, _):
        write = backend.ledger.write
        async def slow(events):
            written = await write(events)
            print("written", len(events), flush=True)
            await asyncio.sleep(0.3)
            return written
        backend.ledger.write = slow
        await run_worker(backend.drain(batch_size=50), asyncio.Event())

asyncio.run(main())
"""


@pytest.fixture(params=["sqlite", "redis", "cluster"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A gateway config on each backend (the state the worker processes and the test share)."""
    if request.param == "sqlite":
        yield {"storage": {"path": str(tmp_path / "aiproxy.db")}}
        return
    if request.param == "redis":
        require_redis()
        prefix = new_prefix("aiproxy-billing-crash")
        yield {"redis": {"host": "127.0.0.1", "port": 6379, "prefix": prefix}}
        drop_prefix(prefix)
        return
    cluster = request.getfixturevalue("aiproxy_redis_cluster")
    prefix = new_prefix("aiproxy-billing-crash")
    node = cluster.startup_node
    yield {"redis": {"host": node.host, "port": node.port, "cluster": True, "prefix": prefix}}
    cluster.drop_prefix(prefix)


def event(n: int) -> BillingEvent:
    return BillingEvent(
        request_id=f"req-{n}", tenant_id=TENANT, consumer_id="con_1", key_id="key_1", rule_id="rule_1",
        endpoint="/v1/chat/completions", model="gpt-4o-mini", input_tokens=3, output_tokens=2, status=200,
        latency_ms=1.0, timestamp="2025-05-0%dT12:00:00.000Z" % (1 + n % 3),
    )


def config_file(config: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_sigkill_mid_batch_then_restart_bills_each_event_exactly_once(config: dict[str, Any], tmp_path: Path) -> None:
    settings = GatewayConfig.model_validate(config)
    async with opened_backend(settings) as (backend, _):
        for n in range(EVENTS):
            await backend.queue.put(event(n))  # one by one: one queue entry each, claimed 50 at a time

    path = config_file(config, tmp_path)
    script = tmp_path / "slow_worker.py"
    script.write_text(SLOW_WORKER)
    worker = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        assert worker.stdout is not None
        for _ in range(3):  # let three batches reach the ledger; the third is not yet acknowledged
            line = worker.stdout.readline()
            assert line.startswith(b"written"), line + worker.stdout.read(2000)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait(timeout=10)

    async with opened_backend(settings) as (backend, _):
        in_ledger = await backend.ledger.count(TENANT)
        waiting = (await backend.queue.backlog())["events_waiting"]
    assert 150 <= in_ledger < EVENTS, in_ledger
    assert in_ledger + waiting > EVENTS, "the killed worker's last batch was counted but never acknowledged"

    restarted = run_aiproxy("billing-worker", "--config", str(path), "--once", "--claim-idle-ms", "1", cwd=tmp_path)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr

    async with opened_backend(settings) as (backend, _):
        assert await backend.ledger.count(TENANT) == EVENTS
        assert (await backend.queue.backlog())["events_waiting"] == 0
        days = [date(2025, 5, d) for d in (1, 2, 3)]
        usage, _ = await backend.ledger.days(TENANT, "con_1", days)
        assert sum(day.requests for day in usage.values()) == EVENTS, "a replayed batch was counted twice"
        assert all(day.input_tokens == 3 * day.requests for day in usage.values())
        kept = backend.ledger.records
        assert await kept.count(TENANT) == (0 if kept.sink == "none" else EVENTS)


async def test_the_worker_command_moves_what_was_queued_before_any_worker_ran(config: dict[str, Any], tmp_path: Path) -> None:
    settings = GatewayConfig.model_validate(config)
    async with opened_backend(settings) as (backend, _):
        await asyncio.gather(*(backend.queue.put(event(n)) for n in range(20)))  # one turn: one entry
    done = run_aiproxy("billing-worker", "--config", str(config_file(config, tmp_path)), "--once", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "moved 20" in done.stdout
    async with opened_backend(settings) as (backend, _):
        assert await backend.ledger.count(TENANT) == 20
        assert (await backend.queue.backlog())["events_waiting"] == 0


async def test_malformed_queue_items_are_logged_and_dropped_and_the_rest_billed(config: dict[str, Any], tmp_path: Path) -> None:
    settings = GatewayConfig.model_validate(config)
    async with opened_backend(settings) as (backend, _):
        await backend.queue.put(event(1))
        for junk in ("not an event", {"tenant_id": TENANT}, {"request_id": 5}):
            await backend.queue.queue.append(junk)
        await backend.queue.put(event(2))
        drain = backend.drain(claim_idle=0.001)
        moved = 0
        while step := await drain.step(0):
            moved += step
        assert moved == 2  # the two well-formed items
        assert (await backend.queue.backlog())["events_waiting"] == 0  # every item left the queue
        assert await backend.ledger.count(TENANT) == 2
        usage, _ = await backend.ledger.days(TENANT, "con_1", [date(2025, 5, 2), date(2025, 5, 3)])
        assert usage["2025-05-02"].requests_by_endpoint == {"/v1/chat/completions": 1}
        assert usage["2025-05-03"].tokens_by_model == {"gpt-4o-mini": (3, 2)}
