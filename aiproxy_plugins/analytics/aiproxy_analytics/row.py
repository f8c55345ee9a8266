"""What a request leaves for analytics: a plain tuple of what its context holds, taken when the
client has its answer and read only when the process flushes.

The request path pays for the tuple alone (a few attribute reads): the annotations dict is kept
as it is, so its usage, cost, TTFT and flags are read at the flush, in a batch (:mod:`.batch`),
and the country is looked up there once per address. Only answers no upstream gave (a cache's,
a plugin's) or requests that named no model have their body read here, while it is at hand.
"""

from __future__ import annotations

import time
from typing import Any

from aiproxy_core import RequestContext, openai_shapes
from aiproxy_core.openai_shapes import TokenUsage
from aiproxy_core.state_keys import UPSTREAM_MS, USAGE

__all__ = ["Row", "row_of"]

#: ``(time, latency_ms, tenant_id, rule_id, consumer_id, model, status, annotations,
#: request_bytes, response_bytes, client_ip, country_header, usage, request_id, key_id)``;
#: ``usage`` is what the annotations do not say: a stream's events, or a body no upstream gave.
Row = tuple[
    float, float, str, str, "str | None", "str | None", int, dict[str, Any], int, int, "str | None", "str | None",
    "TokenUsage | None", str, str,
]

TIME, LATENCY, TENANT, RULE, CONSUMER, MODEL, STATUS, ANNOTATIONS, REQUEST_BYTES, RESPONSE_BYTES, CLIENT_IP, \
    COUNTRY_HEADER, USAGE_SEEN, REQUEST_ID, KEY_ID = range(15)


def row_of(ctx: RequestContext, stream_usage: TokenUsage | None, country_header: str | None) -> Row:
    """The row of a finished request (``ctx.response`` None: the client left before any answer)."""
    now = time.perf_counter()
    request = ctx.request
    response = ctx.response
    annotations = ctx.annotations
    model = request.model or None
    usage = stream_usage
    if response is not None:
        status = response.status
        body = response.body
        if body is None:
            response_bytes = response.streamed_bytes
        else:
            response_bytes = len(body)
            if model is None or (usage is None and USAGE not in annotations and UPSTREAM_MS not in annotations):
                model, usage = _from_answer(response, model, usage)
    else:
        status, response_bytes = 0, 0
    api_key = ctx.api_key
    return (
        time.time(), (now - ctx.started_at) * 1000, ctx.tenant.id, ctx.rule.id, api_key.consumer_id, model, status, annotations,
        len(request.body), response_bytes, request.client_ip, country_header, usage, ctx.request_id, api_key.id,
    )


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
