"""Deleting Redis keys by pattern without blocking Redis: SCAN in steps, DEL in batches.

For plugins dropping what they keep for a deleted tenant (``tenant_deleted``). ``KEYS`` would
block the server while it walks the whole keyspace; ``SCAN`` walks it a step at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["delete_matching"]

#: Keys per SCAN step and per DEL.
BATCH = 500


async def delete_matching(redis: "Redis", pattern: str) -> int:
    """Delete every key matching the glob ``pattern``; returns how many were deleted."""
    deleted = 0
    batch: list[bytes | str] = []
    async for key in redis.scan_iter(match=pattern, count=BATCH):
        batch.append(key)
        if len(batch) >= BATCH:
            deleted += await redis.delete(*batch)
            batch.clear()
    if batch:
        deleted += await redis.delete(*batch)
    return deleted
