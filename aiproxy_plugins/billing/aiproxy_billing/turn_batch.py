"""Writing what one event-loop turn queued in one call, for queues written once per request.

Under load a gateway finishes ~30 requests per event-loop turn here; a queue write per request
(an XADD, an INSERT in a thread) costs its fixed overhead 30 times over. :class:`TurnBatch` holds
the items added during a turn, hands them to ``write`` in one call at the end of it, and tells each
caller whether its item was written: ``add`` returns once the batch holding it is durable, or
raises what the write raised.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, TypeVar

__all__ = ["TurnBatch"]

T = TypeVar("T")


class TurnBatch(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write = write
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._flushing = False

    async def add(self, item: T) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.append((item, future))
        if not self._flushing:
            self._flushing = True
            # call_soon: the flush starts after the callbacks already scheduled in this turn,
            # so the other requests finishing now join the same batch.
            loop.call_soon(lambda: loop.create_task(self._flush()))
        await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await self._write([item for item, _ in batch])
                except Exception as exc:  # every waiter learns its item was not written
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._flushing = False
