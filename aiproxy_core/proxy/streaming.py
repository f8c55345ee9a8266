"""An upstream answer's byte stream: regrouped into whole server-sent events for per-chunk hooks,
and closed when it will not be read to its end (its connection goes back to the pool or is dropped)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, AsyncIterator

from ..sse import EVENT_END

if TYPE_CHECKING:
    from ..context import ProxyResponse

__all__ = ["close_stream", "discard", "sse_events"]

logger = logging.getLogger("aiproxy.proxy")


async def close_stream(chunks: AsyncIterator[bytes]) -> None:
    """Close ``chunks`` (and the streams under it) if it can be closed."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


async def discard(response: ProxyResponse | None) -> None:
    """Release an upstream stream that will not be sent (its connection goes back or is dropped)."""
    if response is not None and response.stream is not None:
        try:
            await close_stream(response.stream)
        except Exception:  # closing a broken upstream stream must not mask the real outcome
            logger.debug("closing an upstream stream failed", exc_info=True)


async def sse_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Yield the stream cut after the last complete event in what has arrived so far.

    A hook then never sees half an event; what arrives after the last blank line waits for the
    next chunk, and whatever is left when the stream ends is yielded as it is.
    """
    pending = b""
    try:
        async for chunk in chunks:
            pending += chunk
            last_end = None
            for last_end in EVENT_END.finditer(pending):
                pass
            if last_end is not None:
                cut = last_end.end()
                yield pending[:cut]
                pending = pending[cut:]
        if pending:
            yield pending
    finally:
        await close_stream(chunks)
