"""One write for everything a queue was given during one event-loop turn.

Under load a gateway finishes tens of requests per event-loop turn; a queue write per request
(an XADD, an INSERT transaction) pays its fixed cost that many times over. :class:`TurnBatch`
holds the items added during a turn and hands them to ``write`` in one call once the turn's other
callbacks have run (``loop.call_soon``). Every caller awaits the write that holds its item:
``add`` returns a future that is done once the item is durable, and raises what the write
raised. Items added while a write is in flight (a Redis round trip) join the next one, so there
is never more than one write at a time.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, TypeVar

__all__ = ["TurnBatch", "refused"]

T = TypeVar("T")


class TurnBatch(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write = write
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._flush_task: asyncio.Task[None] | None = None
        #: The loop of the write scheduled or in flight (the caller's own: it runs in this turn);
        #: None while no write is scheduled.
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, item: T) -> "asyncio.Future[None]":
        """Queue ``item`` for this turn's write; ``await`` the result (done once it is written).

        A plain function returning the future, not a coroutine: a request that appends (billing's
        event, after the answer) awaits through one level fewer, and while a write is scheduled
        the loop is known without ``asyncio.get_running_loop()`` (a ``getpid`` system call per
        call on Python 3.11)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
            # call_soon: the flush starts after the callbacks already queued for this turn, so
            # every coroutine appending now joins the same write.
            loop.call_soon(self._start_flush, loop)
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.append((item, future))
        # No shield needed: the write runs in the flush task, and each appender awaits a future
        # of its own, so one appender cancelled (a client left) cancels only that future; its
        # item is written with the others (a shield cost a second future per item).
        return future

    def _start_flush(self, loop: asyncio.AbstractEventLoop) -> None:
        # The task is kept referenced until done (a bare create_task may be collected mid-write).
        self._flush_task = loop.create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await self._write([item for item, _ in batch])
                except BaseException as exc:  # every waiter learns its item was not written
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._loop = None
            self._flush_task = None
            # Left over only when the flush itself was cancelled (the loop is closing): those
            # items were not written, and their appenders must not wait forever.
            leftover, self._waiting = self._waiting, []
            for _, future in leftover:
                if not future.done():
                    future.set_exception(RuntimeError("the queue write was cancelled (the event loop is closing)"))


def refused(exc: Exception) -> "asyncio.Future[None]":
    """An append's outcome when its item was refused before joining a batch: awaiting it raises
    ``exc``, as awaiting an ``async def`` append did, so ``gather(..., return_exceptions=True)``
    over appends still gets each bad item's error in its place."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_exception(exc)
    return future
