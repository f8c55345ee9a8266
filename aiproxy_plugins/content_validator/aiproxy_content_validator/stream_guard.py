"""Guarding a streamed (server-sent events) answer event by event, as it passes to the client.

The assistant's text is accumulated per choice from each event's ``delta.content``, and the
deny patterns are searched after every event. At the first match the event that completed it is
replaced with an error event and ``[DONE]``, and everything after is dropped: the client gets a
clean end instead of a stream that stops without a word. Text sent before that event has already
left; the guard stops the answer, it cannot unsay its beginning.

Searching everything again at each event would cost quadratic time in the answer's length, so a
piece is searched together with the last ``stream_lookback_chars`` of earlier text only: a match
longer than that window can be missed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Pattern, Sequence

from aiproxy_core import RequestContext, openai_shapes
from aiproxy_core.sse import DONE_EVENT, event_payload, split_events

from .refusals import PLUGIN_NAME, rejected_response

__all__ = ["StreamScan", "event_payload", "guard_chunk", "split_events"]



@dataclass
class StreamScan:
    """One request's streamed text so far (its recent tail per choice), in ``ctx.state``."""

    tails: dict[int, str] = field(default_factory=dict)
    stopped: bool = False


def _first_match(
    payload: Any, scan: StreamScan, patterns: Sequence[Pattern[str]], lookback: int
) -> tuple[int, int] | None:
    """``(choice, pattern index)`` of the first match the event's text completes, if any."""
    for choice, _, _, piece in openai_shapes.delta_texts(payload):
        window = scan.tails.get(choice, "") + piece
        for index, pattern in enumerate(patterns):
            if pattern.search(window):
                return choice, index
        scan.tails[choice] = window[-lookback:]
    return None


def guard_chunk(ctx: RequestContext, patterns: Sequence[Pattern[str]], lookback: int, chunk: bytes) -> bytes | None:
    """The chunk to send instead (``b""`` to drop it), or None to send it unchanged."""
    scan = ctx.state.get(PLUGIN_NAME)
    if not isinstance(scan, StreamScan):
        scan = ctx.state[PLUGIN_NAME] = StreamScan()
    if scan.stopped:
        return b""
    kept: list[bytes] = []
    for event in split_events(chunk):
        found = _first_match(event_payload(event), scan, patterns, lookback)
        if found is not None:
            scan.stopped = True
            choice, index = found
            error = rejected_response(
                "the upstream's answer matches a pattern this route denies; the rest of it was withheld",
                "response_deny_patterns",
                choice=choice,
                pattern_index=index,
            )
            return b"".join(kept) + b"data: " + error.to_body(ctx.request_id) + b"\n\n" + DONE_EVENT
        kept.append(event)
    return None
