"""Noticing a client that left, so the upstream call it started is cancelled, not paid for.

Once the request body is read, the ASGI server's next message can only be ``http.disconnect``.
When it comes, the request's task is cancelled, but only while it waits on the upstream (for the
response's head or its next chunk): cancelling it anywhere else could cut a plugin's store write
in half, so elsewhere the flag is just set and checked.

How the disconnect is heard: the gateway's own listeners give ``receive`` an ``on_disconnect``
on the object it is a method of (``server/proxy_protocol.py``'s exchange; on uvicorn's protocol,
``server/response_cycle.py``'s cycle, through a :class:`DisconnectSignal`), which calls the watch
when the connection drops; on any other ASGI server one task per request waits on ``receive()``
(that task and its callback were ~3 % of the gateway's CPU under load).
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, MutableMapping

from starlette.types import Receive

__all__ = ["ClientDisconnected", "DisconnectSignal", "DisconnectWatch"]


class DisconnectSignal(asyncio.Event):
    """An ``asyncio.Event`` that also calls ``listener`` when set.

    The gateway's listener gives each request cycle one as the event uvicorn sets when the
    connection is lost (and when more body arrives or the response completes: the listener checks
    the cycle's ``disconnected``), so the watch needs no task of its own.
    """

    listener: Callable[[], None] | None = None

    def set(self) -> None:
        super().set()
        listener = self.listener
        if listener is not None:
            listener()


class ClientDisconnected(Exception):
    """The client went away; nothing more is sent to it."""


class DisconnectWatch:
    __slots__ = ("gone", "waiting", "_task", "_future", "_on_disconnect")

    def __init__(self, receive: Receive) -> None:
        self.gone = False
        #: True while the request's task awaits the upstream: the only time it may be cancelled.
        self.waiting = False
        self._future: asyncio.Future[MutableMapping[str, Any]] | None = None
        # The gateway's listeners: receive is a method of an object that calls back on a disconnect
        # (at once if the client left while the body was read), and the gateway's own protocol's
        # also knows the request's task (asyncio.current_task() costs a getpid() system call).
        owner = getattr(receive, "__self__", None)
        task = getattr(owner, "task", None)
        self._task = task if task is not None else asyncio.current_task()
        on_disconnect: Callable[[Callable[[], None] | None], None] | None = getattr(owner, "on_disconnect", None)
        self._on_disconnect = on_disconnect
        if on_disconnect is not None:
            on_disconnect(self._client_left)
        else:
            self._future = asyncio.ensure_future(receive())
            self._future.add_done_callback(self._on_message)

    def _on_message(self, future: "asyncio.Future[MutableMapping[str, Any]]") -> None:
        if future.cancelled() or future.exception() is not None:
            return
        if future.result().get("type") == "http.disconnect":
            self._client_left()

    def _client_left(self) -> None:
        if self.gone:
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
        if self._future is not None:
            self._future.cancel()
        if self._on_disconnect is not None:
            self._on_disconnect(None)
