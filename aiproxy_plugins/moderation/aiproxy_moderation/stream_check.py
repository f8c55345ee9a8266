"""The answer's turn for an event stream: moderated and PII-restored event by event.

The assistant's text is accumulated per choice in ``ctx.state``. With answer checks on, events
are held until ``stream_check_chars`` new characters arrived (or a choice finished), then the
last ``stream_window_chars`` of each choice's text are checked and the held events released
together: nothing unchecked reaches the client. A block replaces the rest of the stream with one
error event and ``[DONE]``. Text released before it has left; a block stops the answer, it cannot
unsay its beginning. A flag can no longer become a response header (those left with the first
byte), so it goes to ``ctx.annotations`` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiproxy_core import GatewayError, RequestContext, openai_shapes

from .backend import moderate
from .request_state import state_of
from .settings import ModerationSettings
from aiproxy_core.sse import DONE_EVENT, data_event, event_payload, is_done, split_events
from .stream_restore import StreamRestorer
from .verdicts import apply_verdict

__all__ = ["AnswerStream", "guard_chunk"]


@dataclass
class AnswerStream:
    restorer: StreamRestorer | None
    texts: dict[int, str] = field(default_factory=dict)
    fresh: set[int] = field(default_factory=set)
    held: list[bytes] = field(default_factory=list)
    unchecked_chars: int = 0
    stopped: bool = False


def _finished_choices(payload: Any) -> list[int]:
    choices = payload.get("choices") if isinstance(payload, dict) else None
    return [
        choice.get("index", position)
        for position, choice in enumerate(choices if isinstance(choices, list) else ())
        if isinstance(choice, dict) and choice.get("finish_reason")
    ]


def _restored(stream: AnswerStream, event: bytes, payload: Any) -> bytes:
    """The event with placeholders replaced (and held tails flushed when a choice finishes)."""
    restorer = stream.restorer
    if restorer is None:
        return event
    if is_done(event):
        # Whatever is still held belongs to a choice that never said it finished.
        leftovers = [(choice, restorer.flush(choice)) for choice in list(restorer.held)]
        pieces = [data_event({"choices": [{"index": c, "delta": {"content": t}}]}) for c, t in leftovers if t]
        return b"".join(pieces) + event
    if payload is None:
        return event
    changed = False
    for choice, holder, key, text in openai_shapes.delta_texts(payload):
        new = restorer.feed(choice, text)
        changed = changed or new != text
        holder[key] = new
    for choice in _finished_choices(payload):
        tail = restorer.flush(choice)
        if tail:
            for index, choice_body in enumerate(payload["choices"]):
                if choice_body.get("index", index) == choice:
                    delta = choice_body.setdefault("delta", {})
                    delta["content"] = (delta.get("content") or "") + tail
            changed = True
    return data_event(payload) if changed else event


async def _check(ctx: RequestContext, stream: AnswerStream, settings: ModerationSettings) -> GatewayError | None:
    texts = [stream.texts[choice] for choice in sorted(stream.fresh)]
    stream.fresh.clear()
    stream.unchecked_chars = 0
    try:
        apply_verdict(ctx, settings, "answer", await moderate(texts, settings), header=False)
    except GatewayError as exc:
        return exc
    return None


async def guard_chunk(ctx: RequestContext, settings: ModerationSettings, chunk: bytes) -> bytes | None:
    """The bytes to send for this chunk (``b""`` to send nothing yet), or None for unchanged."""
    state = state_of(ctx)
    restores = settings.restore_pii and bool(state.vault.originals)
    checks = settings.check_answer and settings.moderates
    if not (restores or checks):
        return None
    stream = state.stream
    if stream is None:
        stream = state.stream = AnswerStream(StreamRestorer(state.vault) if restores else None)
    if stream.stopped:
        return b""
    out: list[bytes] = []
    for event in split_events(chunk):
        payload = event_payload(event)
        if checks and payload is not None:
            for choice, _, _, text in openai_shapes.delta_texts(payload):
                if text:
                    # Only the window is ever scored, so only the window is kept.
                    stream.texts[choice] = (stream.texts.get(choice, "") + text)[-settings.stream_window_chars :]
                    stream.fresh.add(choice)
                    stream.unchecked_chars += len(text)
        finished = is_done(event) or bool(_finished_choices(payload))
        event = _restored(stream, event, payload)
        if not checks:
            out.append(event)
            continue
        stream.held.append(event)
        if stream.fresh and (stream.unchecked_chars >= settings.stream_check_chars or finished):
            refusal = await _check(ctx, stream, settings)
            if refusal is not None:
                stream.stopped = True
                stream.held.clear()
                return b"".join(out) + b"data: " + refusal.to_body(ctx.request_id) + b"\n\n" + DONE_EVENT
        if not stream.fresh:
            out.extend(stream.held)
            stream.held.clear()
    return b"".join(out)
