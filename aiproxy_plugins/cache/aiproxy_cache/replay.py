"""Serving a cached answer to a streamed request: the server-sent events an upstream would send."""

from __future__ import annotations

import json
import time
from typing import Any, AsyncIterator

from .entries import CachedAnswer

__all__ = ["replay_events"]

#: Content is sent in deltas of about this many characters: a few events, not one per token, since
#: the whole answer is here already and a client renders each delta as it comes.
DELTA_CHARS = 256


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def _pieces(content: str) -> list[str]:
    return [content[i : i + DELTA_CHARS] for i in range(0, len(content), DELTA_CHARS)] or [""]


async def replay_events(answer: CachedAnswer, completion_id: str) -> AsyncIterator[bytes]:
    """Role delta, content deltas, the finish reason, the usage chunk (when known), ``[DONE]``.

    The usage chunk is sent as OpenAI sends it with ``stream_options.include_usage`` (empty
    ``choices``), whatever the request asked, like the mock upstream: clients skip it when they
    did not ask, and metering plugins downstream need it.
    """
    base = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": answer.model}

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    yield _event(choice({"role": "assistant", "content": ""}))
    for piece in _pieces(answer.content):
        yield _event(choice({"content": piece}))
    yield _event(choice({}, answer.finish_reason))
    if answer.usage is not None:
        yield _event({**base, "choices": [], "usage": answer.usage})
    yield b"data: [DONE]\n\n"
