"""One request's analytics record, read from its context once the client has the answer."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

from aiproxy_core import RequestContext, openai_shapes
from aiproxy_core.openai_shapes import TokenUsage
from aiproxy_core.state_keys import INTERRUPTED, TTFT_MS, UPSTREAM_MS, USAGE

__all__ = ["RequestRecord", "record_of", "status_class"]


@dataclass(slots=True)
class RequestRecord:
    """Every field the issue lists; ``None`` where the gateway did not learn it."""

    request_id: str
    time: float
    tenant_id: str
    rule_id: str
    consumer_id: str | None
    key_id: str
    model: str | None
    status: int
    target: str | None
    input_tokens: int
    output_tokens: int
    cost_micros: int
    latency_ms: float
    upstream_ms: float | None
    overhead_ms: float | None
    ttft_ms: float | None
    request_bytes: int
    response_bytes: int
    country: str
    cache: str | None
    moderation_flags: list[str]
    interrupted: str | None

    def data(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies every field, the largest single cost of the plugin in a profile.
        data = {name: getattr(self, name) for name in _FIELDS}
        data["moderation_flags"] = list(self.moderation_flags)
        for name in ("latency_ms", "overhead_ms"):  # rounded only here: round(x, 3) costs µs per request
            if data[name] is not None:
                data[name] = round(data[name], 3)
        return data


_FIELDS = tuple(field.name for field in fields(RequestRecord))


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def record_of(ctx: RequestContext, *, country: str, stream_usage: TokenUsage | None, now: float | None = None) -> RequestRecord:
    """The record of a finished request; ``stream_usage`` is what a streamed answer's events
    reported (a plain answer's body holds its own)."""
    latency_ms = (time.perf_counter() - ctx.started_at) * 1000
    response = ctx.response
    annotations = ctx.annotations
    # The core read an upstream's usage already (ctx.annotations["usage"]): the body is parsed
    # here only for an answer no upstream gave (a cache's, a plugin's), or a model not asked for.
    counts = _annotated_usage(annotations.get(USAGE)) or stream_usage
    body = _NOT_READ
    if counts is None and response is not None and response.body is not None and annotations.get(UPSTREAM_MS) is None:
        body = _json_or_none(response)
        counts = openai_shapes.usage_in_body(body)
    # The model the client asked for groups what consumers choose; the answer's (often a
    # dated version) only when the request named none.
    model = _request_model(ctx)
    if model is None and response is not None and response.body is not None:
        model = openai_shapes.model_of(_json_or_none(response) if body is _NOT_READ else body)
    upstream_ms = _number(annotations.get("upstream_ms"))
    ttft = _number(annotations.get(TTFT_MS))
    cost = _number(annotations.get("cost"))
    moderation = annotations.get("moderation")
    flags = moderation.get("flagged") if isinstance(moderation, dict) else None
    target = annotations.get("target")
    return RequestRecord(
        request_id=ctx.request_id,
        time=time.time() if now is None else now,
        tenant_id=ctx.tenant.id,
        rule_id=ctx.rule.id,
        consumer_id=ctx.consumer_id,
        key_id=ctx.api_key.id,
        model=model,
        status=response.status if response is not None else 0,
        target=None if target is None else str(target),
        input_tokens=counts.input_tokens if counts is not None else 0,
        output_tokens=counts.output_tokens if counts is not None else 0,
        cost_micros=round(cost * 1_000_000) if cost is not None else 0,
        latency_ms=latency_ms,
        upstream_ms=upstream_ms,
        overhead_ms=latency_ms - upstream_ms if upstream_ms is not None else None,
        ttft_ms=ttft,
        request_bytes=len(ctx.request.body),
        response_bytes=(len(response.body) if response.body is not None else response.streamed_bytes) if response is not None else 0,
        country=country,
        cache=str(annotations["cache"]) if isinstance(annotations.get("cache"), str) else None,
        moderation_flags=[str(flag) for flag in flags] if isinstance(flags, list) else [],
        interrupted=str(annotations[INTERRUPTED]) if annotations.get(INTERRUPTED) else None,
    )


_NOT_READ = object()


def _annotated_usage(usage: Any) -> TokenUsage | None:
    if not isinstance(usage, dict):
        return None
    inputs, outputs = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    return TokenUsage(inputs, outputs, inputs + outputs)


def _json_or_none(response: Any) -> Any:
    try:
        return response.json
    except ValueError:
        return None


def _request_model(ctx: RequestContext) -> str | None:
    # Only a body that some hook already parsed, or a small one: never parse a huge body here.
    if len(ctx.request.body) > 1_000_000:
        return None
    try:
        return openai_shapes.model_of(ctx.request.json)
    except Exception:  # the client's body need not be JSON
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
