"""Sharing one in-flight load among concurrent callers that miss the same cache entry."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """A cold burst of N requests for one key costs one store read, not N.

    :meth:`forget` is called on change events: loads already running finish for their callers,
    but later callers start a fresh load instead of joining one that may have read stale data.
    A cache fills itself through :meth:`load_current`, which also says whether a change came while
    the load ran: what such a load read is returned to its callers, but must not be cached.
    """

    def __init__(self) -> None:
        self._pending: dict[K, asyncio.Future[V]] = {}
        #: Bumped by :meth:`forget`.
        self._generation = 0

    async def load_current(self, key: K, loader: Callable[[], Awaitable[V]]) -> tuple[V, bool]:
        """:meth:`load`'s value, and True when no :meth:`forget` ran while it loaded (it may be cached)."""
        generation = self._generation
        value = await self.load(key, loader)
        return value, generation == self._generation

    async def load(self, key: K, loader: Callable[[], Awaitable[V]]) -> V:
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value = await loader()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: a load nobody joined must not warn at exit
            raise
        finally:
            if self._pending.get(key) is future:
                del self._pending[key]
        future.set_result(value)
        return value

    def forget(self) -> None:
        self._generation += 1
        self._pending.clear()
