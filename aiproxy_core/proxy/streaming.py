"""Regrouping a byte stream into whole server-sent events for per-chunk hooks."""

from __future__ import annotations

from typing import AsyncIterator

from ..sse import EVENT_END


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
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
