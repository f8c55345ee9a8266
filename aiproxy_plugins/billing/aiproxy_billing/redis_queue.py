"""The Redis event queue: a Stream read through a consumer group.

Events are queued after the response (post_response). The events queued in one event-loop turn
travel as one stream entry (field ``events``: a JSON array), written by one XADD (see
:class:`aiproxy_core.state.TurnBatch`): under load
redis-py's per-command Python work, not Redis, is the cost, so one command per turn rather than
one per request. A worker reads entries with XREADGROUP, which puts them in the group's pending
list under the worker's name; only after the ledger holds every event of an entry does the worker
XACK it (and XDEL it, so the stream does not grow). A worker killed in between leaves its entries
pending; the next worker takes them over with XAUTOCLAIM and writes them again, which the ledger
ignores (idempotent), so nothing is lost and nothing is counted twice.

Entries with a single ``event`` field (one JSON object) are what gateways before batching wrote;
the worker still reads them, so an upgrade with events in flight loses none.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from aiproxy_core.state import TurnBatch

from .events import BillingEvent

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Entry", "GROUP", "MAX_EVENTS_PER_ENTRY", "RedisEventQueue"]

logger = logging.getLogger("aiproxy.billing.queue")

GROUP = "billing"

#: At most this many events in one stream entry (bounds an entry's size and a replay's work).
MAX_EVENTS_PER_ENTRY = 256

#: One stream entry as the worker sees it: its id and the events it holds (empty: unreadable).
Entry = tuple[str, list[BillingEvent]]


class RedisEventQueue:
    def __init__(self, redis: "Redis", prefix: str) -> None:
        self._redis = redis
        self.stream = f"{prefix}:billing:events"
        self._batch: TurnBatch[str] = TurnBatch(self._write)

    async def put(self, event: BillingEvent) -> None:
        """Queue one event; returns once Redis holds it (raises if it could not be written)."""
        await self._batch.add(event.to_json())

    async def _write(self, docs: list[str]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(docs), MAX_EVENTS_PER_ENTRY):
                pipe.xadd(self.stream, {"events": "[" + ",".join(docs[start : start + MAX_EVENTS_PER_ENTRY]) + "]"})
            await pipe.execute()

    async def ensure_group(self) -> None:
        try:
            # id 0: a group made after events were queued still gets them all.
            await self._redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except Exception as exc:  # redis.ResponseError, without importing redis at module level
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, consumer: str, count: int, block_ms: int) -> list[Entry]:
        """Up to ``count`` new entries for ``consumer`` (now pending under its name)."""
        reply = await self._redis.xreadgroup(GROUP, consumer, {self.stream: ">"}, count=count, block=block_ms or None)  # 0: do not block at all
        return [entry for _, entries in reply or [] for entry in _entries(entries)]

    async def claim(self, consumer: str, min_idle_ms: int, count: int) -> list[Entry]:
        """Entries pending for at least ``min_idle_ms`` under any name (a dead worker's), now ours."""
        claimed: list[Entry] = []
        start = "0-0"
        while True:
            reply = await self._redis.xautoclaim(self.stream, GROUP, consumer, min_idle_ms, start, count=count)
            start, entries = reply[0], reply[1]
            claimed.extend(_entries(entries))
            deleted = reply[2] if len(reply) > 2 else []
            if deleted:  # gone from the stream (e.g. XDEL after a crash between ACK and DEL)
                await self._redis.xack(self.stream, GROUP, *deleted)
            if start in ("0-0", b"0-0") or len(claimed) >= count:
                return claimed

    async def ack(self, ids: list[str]) -> None:
        if not ids:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, GROUP, *ids)
            pipe.xdel(self.stream, *ids)
            await pipe.execute()

    async def backlog(self) -> dict[str, Any]:
        """Entries not yet in the ledger: never read (``lag``) plus read but unacknowledged (``pending``).

        Counted in stream entries (each holds the events of one gateway event-loop turn): the
        stream keeps only unacknowledged entries, so its length is the whole backlog.
        """
        waiting = int(await self._redis.xlen(self.stream))
        pending = 0
        if waiting:
            groups = await self._redis.xinfo_groups(self.stream)
            pending = next((int(g["pending"]) for g in groups if g.get("name") in (GROUP, GROUP.encode())), 0)
        return {"kind": "redis stream", "stream": self.stream, "entries_waiting": waiting, "entries_pending": pending}

    async def pending_count(self) -> int:
        info = await self._redis.xpending(self.stream, GROUP)
        return int(info["pending"])


def _entries(entries: Any) -> list[Entry]:
    parsed: list[Entry] = []
    for entry_id, fields in entries or []:
        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        parsed.append((entry_id, _events(fields or {})))
    return parsed


def _events(fields: dict[Any, Any]) -> list[BillingEvent]:
    """The events of one entry; a malformed entry yields none, so it is acknowledged, not retried forever."""
    batch = fields.get("events") or fields.get(b"events")
    single = fields.get("event") or fields.get(b"event")
    try:
        if batch is not None:
            return [BillingEvent.from_dict(doc) for doc in json.loads(batch)]
        return [BillingEvent.from_json(single)] if single is not None else []
    except (ValueError, TypeError, KeyError, AttributeError):
        logger.error("billing: dropped a malformed queue entry (not JSON events): %.500r", batch or single)
        return []
