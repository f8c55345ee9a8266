"""What a request leaves for analytics: a plain tuple of what its context holds, taken when the
client has its answer and added up only when the process flushes (:mod:`.batch`).

The tuple holds plain values only (strings, numbers, None; the flags a tuple of strings), never
the annotations dict or the usage dict inside it: the garbage collector stops tracking such a
tuple the first time it sees it, so a second's worth of rows waiting for the flush is not walked
again by every collection (holding the dicts cost more in collections than reading them here).
Values are taken as they are; the flush checks them (a plugin may annotate anything), so the
request path pays for reads and one tuple. Only answers no upstream gave (a cache's, a plugin's)
or requests that named no model have their body read here, while it is at hand.
"""

from __future__ import annotations

import time
from typing import Any

from aiproxy_core import RequestContext, openai_shapes
from aiproxy_core.openai_shapes import TokenUsage
from aiproxy_core.state_keys import INTERRUPTED, TTFT_MS, UPSTREAM_MS, USAGE

__all__ = ["GROUPED", "Row", "row_of"]

#: One request, positionally (the names below index it).
Row = tuple[Any, ...]

(TIME, LATENCY, TENANT, RULE, CONSUMER, MODEL, STATUS, CLIENT_IP, COUNTRY_HEADER, INPUT_TOKENS, OUTPUT_TOKENS, COST, TTFT, UPSTREAM,
 TARGET, CACHE, FLAGS, INTERRUPTED_BY, REQUEST_BYTES, RESPONSE_BYTES, REQUEST_ID, KEY_ID) = range(22)
#: What a row is grouped by, side by side so that one slice takes it: tenant, rule, consumer,
#: model, status, client address and country header (the last three become the status class and
#: the country once per group, not once per row).
GROUPED = slice(TENANT, COUNTRY_HEADER + 1)


def row_of(ctx: RequestContext, stream_usage: TokenUsage | None, country_header: str | None, for_records: bool) -> Row:
    """The row of a finished request (``ctx.response`` None: the client left before any answer).
    What only a kept record shows (request and key ids, target, upstream time) is read only
    ``for_records``; the aggregates do not need it."""
    now = time.perf_counter()
    request = ctx.request
    response = ctx.response
    annotations = ctx.annotations
    model = request.model or None
    usage: Any = annotations.get(USAGE)
    if response is not None:
        status = response.status
        body = response.body
        if body is None:
            response_bytes = response.streamed_bytes
        else:
            response_bytes = len(body)
            if model is None or (usage is None and stream_usage is None and UPSTREAM_MS not in annotations):
                model, stream_usage = _from_answer(response, model, stream_usage)
    else:
        status, response_bytes = 0, 0
    if usage.__class__ is dict:
        input_tokens, output_tokens = usage.get("input_tokens"), usage.get("output_tokens")
    elif stream_usage is not None:
        input_tokens, output_tokens = stream_usage.input_tokens, stream_usage.output_tokens
    else:
        input_tokens = output_tokens = None
    moderation = annotations.get("moderation")
    flags = _flags(moderation) if moderation is not None else ()
    api_key = ctx.api_key
    if for_records:
        upstream_ms, target, request_id, key_id = annotations.get(UPSTREAM_MS), annotations.get("target"), ctx.request_id, api_key.id
    else:
        upstream_ms = target = request_id = key_id = None
    return (
        time.time(), (now - ctx.started_at) * 1000, ctx.tenant.id, ctx.rule.id, api_key.consumer_id, model, status, request.client_ip,
        country_header, input_tokens, output_tokens, annotations.get("cost"), annotations.get(TTFT_MS), upstream_ms, target,
        annotations.get("cache"), flags, annotations.get(INTERRUPTED), len(request.body), response_bytes, request_id, key_id,
    )


def _flags(moderation: Any) -> tuple[str, ...]:
    """The moderation plugin's flagged categories, as strings."""
    flags = moderation.get("flagged") if isinstance(moderation, dict) else None
    return tuple(str(flag) for flag in flags) if isinstance(flags, list) else ()


def _from_answer(response: Any, model: str | None, usage: TokenUsage | None) -> tuple[str | None, TokenUsage | None]:
    """The model an answer names (when the request named none: the answer's, often a dated
    version, is the best there is) and its usage (when no upstream gave it, so the core did not
    read it)."""
    try:
        body = response.json
    except ValueError:  # not JSON: neither is in it
        return model, usage
    if usage is None:
        usage = openai_shapes.usage_in_body(body)
    return model or openai_shapes.model_of(body), usage
