"""Noticing a client that left, so the upstream call it started is cancelled, not paid for.

Once the request body is read, the ASGI server's next message can only be ``http.disconnect``.
One task per request waits for it. When it comes, the request's task is cancelled, but only while
it waits on the upstream (for the response's head or its next chunk): cancelling it anywhere else
could cut a plugin's store write in half, so elsewhere the flag is just set and checked.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, MutableMapping

from starlette.types import Receive

__all__ = ["ClientDisconnected", "DisconnectWatch"]


class ClientDisconnected(Exception):
    """The client went away; nothing more is sent to it."""


class DisconnectWatch:
    __slots__ = ("gone", "waiting", "_task", "_future")

    def __init__(self, receive: Receive) -> None:
        self.gone = False
        #: True while the request's task awaits the upstream: the only time it may be cancelled.
        self.waiting = False
        self._task = asyncio.current_task()
        self._future = asyncio.ensure_future(receive())
        self._future.add_done_callback(self._on_message)

    def _on_message(self, future: "asyncio.Future[MutableMapping[str, Any]]") -> None:
        if future.cancelled() or future.exception() is not None:
            return
        if future.result().get("type") != "http.disconnect":
            return
        self.gone = True
        if self.waiting and self._task is not None:
            self._task.cancel()

    async def upstream(self, waiting: Awaitable[Any]) -> Any:
        """Await ``waiting`` (an upstream call); raise ClientDisconnected if the client leaves meanwhile."""
        if self.gone:
            close = getattr(waiting, "close", None)
            if close is not None:  # a coroutine never awaited would warn
                close()
            raise ClientDisconnected
        self.waiting = True
        try:
            return await waiting
        except asyncio.CancelledError:
            if self.gone and self._task is not None and self._task.uncancel() == 0:
                raise ClientDisconnected from None
            raise
        finally:
            self.waiting = False

    def close(self) -> None:
        self._future.cancel()
