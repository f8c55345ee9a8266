"""The answer's turn for a whole (not event-stream) response: moderate it, then restore PII.

Only successful answers (2xx) are looked at: an upstream error already says what went wrong.
"""

from __future__ import annotations

import json
from typing import Any

from aiproxy_core import ProxyResponse, RequestContext, openai_shapes

from .backend import moderate
from .message_text import rewrite_strings
from .request_state import state_of
from .settings import ModerationSettings
from .verdicts import apply_verdict, content_flagged

__all__ = ["MAX_ANSWER_BYTES", "check_answer"]

#: A streamed plain answer is held whole to be checked; larger ones are refused, not passed on.
MAX_ANSWER_BYTES = 10 * 1024 * 1024
_NOT_JSON: Any = object()


async def _whole(response: ProxyResponse) -> ProxyResponse:
    whole = await response.read_whole(MAX_ANSWER_BYTES)
    if whole is None:
        raise content_flagged("answer", ["too_large_to_check"])
    return whole


def _parsed(response: ProxyResponse) -> Any:
    try:
        return json.loads(response.body or b"")
    except ValueError:
        return _NOT_JSON


async def check_answer(ctx: RequestContext, settings: ModerationSettings) -> ProxyResponse | None:
    response = ctx.response
    if response is None or not 200 <= response.status < 300:
        return None
    vault = state_of(ctx).vault if settings.restore_pii else None
    restores = vault is not None and bool(vault.originals)
    checks = settings.check_answer and settings.moderates
    if not (restores or checks) or response.is_event_stream:
        return None  # an event stream is handled event by event in response_chunk
    replaced = None
    if response.body is None:
        response = replaced = await _whole(response)
    data = _parsed(response)
    is_text = data is _NOT_JSON and response.headers.get("content-type", "").lower().startswith("text/")
    if checks:
        texts = [text for text in openai_shapes.answer_texts(data).values() if text.strip()] if data is not _NOT_JSON else []
        if is_text:
            texts = [(response.body or b"").decode("utf-8", errors="replace")]
        if texts:
            apply_verdict(ctx, settings, "answer", await moderate(texts, settings))
    if restores and vault is not None:
        if data is not _NOT_JSON:
            body = json.dumps(rewrite_strings(data, vault.restore), ensure_ascii=False).encode()
        elif is_text:
            body = vault.restore((response.body or b"").decode("utf-8", errors="replace")).encode()
        else:
            return replaced
        return ProxyResponse(response.status, response.headers, body)
    return replaced
