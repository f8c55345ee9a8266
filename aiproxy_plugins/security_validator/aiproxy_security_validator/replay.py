"""Remembering signatures already used, so a captured signed request cannot be sent twice.

A signature only has to be remembered while its timestamp is inside the window; after that the
timestamp check refuses it anyway. With Redis the memory is shared by every gateway process
(``SET NX PX`` is one atomic step, and Redis expires the key); without it, each process keeps its
own dictionary, which is enough for a single embedded gateway.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["MemoryReplayGuard", "RedisReplayGuard", "ReplayGuard", "replay_key"]

#: How often the in-process memory drops expired entries (one pass over the dict at most this often).
SWEEP_INTERVAL_SECONDS = 1.0


def replay_key(tenant_id: str, signature: str) -> str:
    # Per tenant: two tenants sharing a secret must not refuse each other's requests.
    return f"sv:replay:{tenant_id}:{signature}"


class ReplayGuard(Protocol):
    async def first_sighting(self, key: str, remember_seconds: float) -> bool:
        """True the first time ``key`` is seen within ``remember_seconds``; False for a replay."""
        ...


class MemoryReplayGuard:
    """Signatures seen by this process, each with the monotonic time it may be forgotten."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._forget_at: dict[str, float] = {}
        self._next_sweep = 0.0

    async def first_sighting(self, key: str, remember_seconds: float) -> bool:
        now = self._clock()
        if now >= self._next_sweep:
            self._forget_at = {k: t for k, t in self._forget_at.items() if t > now}
            self._next_sweep = now + SWEEP_INTERVAL_SECONDS
        forget_at = self._forget_at.get(key)
        if forget_at is not None and forget_at > now:
            return False
        self._forget_at[key] = now + remember_seconds
        return True

    def __len__(self) -> int:
        return len(self._forget_at)


class RedisReplayGuard:
    """Signatures seen by any gateway process sharing this Redis."""

    def __init__(self, redis: "Redis", prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def full_key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    async def first_sighting(self, key: str, remember_seconds: float) -> bool:
        # At least 1 ms: PX 0 is an error, and a signature at the very edge of its window still counts.
        milliseconds = max(1, int(remember_seconds * 1000))
        return bool(await self._redis.set(self.full_key(key), b"1", nx=True, px=milliseconds))
