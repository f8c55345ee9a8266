"""The billing worker: moves events from the queue into the ledger, acknowledging only after.

It runs as a task inside ``aiproxy serve`` (started by the plugin's ``startup``) and as the
``aiproxy billing-worker`` command; several may run at once (their ledger writes are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import Protocol

from .ledger_redis import RedisLedger
from .ledger_sqlite import SqliteLedger
from .redis_queue import Entry, RedisEventQueue

__all__ = ["Drain", "RedisDrain", "SqliteDrain", "run_worker"]

logger = logging.getLogger("aiproxy.billing.worker")


class Drain(Protocol):
    async def prepare(self) -> None: ...
    async def step(self, block_ms: int) -> int:
        """Move one batch into the ledger; how many events it moved (0: the queue is empty)."""
        ...


class SqliteDrain:
    def __init__(self, ledger: SqliteLedger, batch_size: int = 200) -> None:
        self._ledger = ledger
        self._batch = batch_size

    async def prepare(self) -> None:
        return None  # nothing is ever in flight: rows leave the outbox in the ledger's transaction

    async def step(self, block_ms: int) -> int:
        moved = await self._ledger.drain_batch(self._batch)
        if moved == 0 and block_ms > 0:
            await asyncio.sleep(block_ms / 1000)  # SQLite cannot block-read: poll
        return moved


class RedisDrain:
    """XREADGROUP a batch, write it to the ledger, then XACK; reclaim what dead workers left."""

    def __init__(
        self,
        queue: RedisEventQueue,
        ledger: RedisLedger,
        *,
        batch_size: int = 200,
        claim_idle_ms: int = 30_000,
        reclaim_every: float = 30.0,
        name: str | None = None,
    ) -> None:
        self._queue = queue
        self._ledger = ledger
        self._batch = batch_size
        self._claim_idle_ms = claim_idle_ms
        self._reclaim_every = reclaim_every
        self._last_reclaim = 0.0
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    async def prepare(self) -> None:
        await self._queue.ensure_group()

    async def step(self, block_ms: int) -> int:
        if time.monotonic() - self._last_reclaim >= self._reclaim_every:
            self._last_reclaim = time.monotonic()
            # A worker killed after XREADGROUP left its entries pending; take them over.
            claimed = await self._queue.claim(self.name, self._claim_idle_ms, self._batch)
            if claimed:
                return await self._settle(claimed)
        try:
            entries = await self._queue.read(self.name, self._batch, block_ms)
        except Exception as exc:  # redis.ResponseError, without importing redis at module level
            if "NOGROUP" not in str(exc) and "no longer exists" not in str(exc):
                raise
            # The stream (and its group) is gone: Redis was flushed, or restarted without
            # persistence. Whatever it held is lost to Redis itself; make the group again so the
            # events queued from now on are billed, instead of failing here forever.
            logger.warning("billing: the event stream's consumer group is gone (Redis flushed or restarted without persistence?); recreating it")
            await self._queue.ensure_group()
            return 0
        return await self._settle(entries)

    async def _settle(self, entries: list[Entry]) -> int:
        """Ledger first, acknowledgement after; returns the events moved."""
        if not entries:
            return 0
        events = [event for _, batch in entries for event in batch]
        # The order is the promise: a crash in between means a replay, which the ledger's
        # HSETNX turns into a no-op.
        await self._ledger.write(events)
        await self._queue.ack([entry_id for entry_id, _ in entries])
        return len(events)


async def run_worker(drain: Drain, stop: asyncio.Event, *, once: bool = False, block_ms: int = 500) -> int:
    """Drain until ``stop`` is set (or, with ``once``, until the queue is empty); returns entries moved."""
    await drain.prepare()
    moved = 0
    while not stop.is_set():
        try:
            step = await drain.step(0 if once else block_ms)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Redis or the disk failed: nothing was acknowledged, so nothing is lost; retry.
            logger.exception("billing worker step failed; retrying in 1 s")
            if once:
                raise
            await asyncio.sleep(1)
            continue
        moved += step
        if once and step == 0:
            break
    return moved
