"""One writer at a time per semantic scope within a process.

Concurrent misses of one scope in one process would otherwise all read the scope's index and
race to compare-and-set it, each loser re-reading a value of up to a few MB. Serialized here,
only writers of *other* processes can conflict, and the compare-and-set retry handles those.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator, Hashable

__all__ = ["ScopeLocks"]


class ScopeLocks:
    def __init__(self) -> None:
        #: Each lock with how many holders and waiters it has: dropped when the last one leaves,
        #: so the dict holds only scopes being written now.
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, name: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(name) or (asyncio.Lock(), 0)
        self._locks[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[name]
            if users == 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
