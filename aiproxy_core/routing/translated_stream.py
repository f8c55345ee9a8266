"""A streamed answer translated between the OpenAI and Anthropic formats, event by event.

Apart from :mod:`.formats` because that module is compiled with mypyc (``aiproxy_core.compiled``),
which does not compile async generators.
"""

from __future__ import annotations

from typing import AsyncIterator

from ..errors import UpstreamUnreachable
from ..proxy.streaming import close_stream
from ..translation import AnthropicToOpenAIStream, OpenAIToAnthropicStream

__all__ = ["translated"]


async def translated(chunks: AsyncIterator[bytes], translator: AnthropicToOpenAIStream | OpenAIToAnthropicStream) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            out = translator.feed(chunk)
            if out:
                yield out
        if translator.cut_off:
            # Raised like a broken transfer, so the proxy ends the stream with its own interrupted
            # event in the client's format and marks the request interrupted for metering.
            error = UpstreamUnreachable("the upstream of this route ended its stream before the answer was complete")
            error.log_detail = "the translated stream ended without its final event"
            raise error
        tail = translator.finish()
        if tail:
            yield tail
    finally:
        await close_stream(chunks)
