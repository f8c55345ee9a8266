"""The upstream's cost of a request in USD, from the usage it reported and the price table (the
core's dated table, with the tenant's own prices over it).

A plain answer's cost goes in ``X-AIProxy-Cost``; a stream's headers are gone before its usage
arrives, so its final usage event carries it as ``usage.cost`` (OpenRouter's field for the same
thing). Both go to ``ctx.annotations["cost"]`` for ``post_response`` plugins, and the token
counts to ``ctx.annotations["usage"]`` (the access log's), priced or not.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, AsyncIterator

from .. import openai_shapes
from ..errors import GatewayError
from ..json_text import loads
from ..proxy.streaming import close_stream
from ..pricing import PriceTable, format_cost, usage_counts
from ..state_keys import USAGE

if TYPE_CHECKING:
    from ..context import RequestContext
    from ..models import Tenant
    from .route_targets import RouteTarget

__all__ = ["COST_ANNOTATION", "RequestCost"]

COST_ANNOTATION = "cost"


class RequestCost:
    def __init__(self) -> None:
        #: A tenant's table, kept while its overrides are the same object (a tenant edit
        #: replaces the tenant, and with it the overrides).
        self._tables: dict[str, tuple[object, PriceTable]] = {}

    def table(self, tenant: Tenant) -> PriceTable:
        overrides = tenant.model_prices
        if not overrides:
            return PriceTable.builtin()
        kept = self._tables.get(tenant.id)
        if kept is not None and kept[0] is overrides:
            return kept[1]
        table = PriceTable.builtin().with_overrides(overrides)
        if len(self._tables) > 10_000:
            self._tables.clear()
        self._tables[tenant.id] = (overrides, table)
        return table

    def of_answer(self, ctx: RequestContext, target: RouteTarget, body: dict[str, Any]) -> None:
        cost = self._cost(ctx, target, body.get("model"), body.get("usage"))
        if cost is not None:
            ctx.response_headers["x-aiproxy-cost"] = format_cost(cost)

    def _cost(self, ctx: RequestContext, target: RouteTarget, model: Any, usage: Any) -> float | None:
        counts = usage_counts(usage)
        if counts is None:
            return None
        ctx.annotations[USAGE] = {"input_tokens": counts.input_tokens, "output_tokens": counts.output_tokens}
        name = model if isinstance(model, str) and model else target.model or _asked_model(ctx)
        cost = self.table(ctx.tenant).cost(name, counts) if name else None
        if cost is not None:
            ctx.annotations[COST_ANNOTATION] = cost
        return cost

    async def of_stream(self, ctx: RequestContext, target: RouteTarget, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``events`` (whole server-sent events) with the cost added to the final usage."""
        seen: dict[str, Any] = {}
        try:
            async for chunk in events:
                if chunk.find(b'"usage"') >= 0:  # per event: find(), as `in` builds and clears a TypeError on 3.11
                    chunk = self._costed(ctx, target, chunk, seen)
                yield chunk
        finally:
            await close_stream(events)

    def _costed(self, ctx: RequestContext, target: RouteTarget, chunk: bytes, seen: dict[str, Any]) -> bytes:
        lines = chunk.split(b"\n")
        for position, line in enumerate(lines):
            if not line.startswith(b"data:") or b'"usage"' not in line:
                continue
            try:
                event = loads(line[5:].strip())
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            kind = event.get("type")
            if kind == "message_start":  # Anthropic: input tokens first, output at message_delta
                message = event.get("message")
                if isinstance(message, dict):
                    seen["model"] = message.get("model")
                    if isinstance(message.get("usage"), dict):
                        seen["usage"] = dict(message["usage"])
                continue
            usage = event.get("usage")
            if not isinstance(usage, dict):
                continue
            if kind == "message_delta":
                merged = {**seen.get("usage", {}), **{k: v for k, v in usage.items() if v is not None}}
                model = seen.get("model")
            else:
                merged, model = usage, event.get("model")
            cost = self._cost(ctx, target, model, merged)
            if cost is None:
                continue
            usage["cost"] = cost
            lines[position] = b"data: " + json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        return b"\n".join(lines)


def _asked_model(ctx: RequestContext) -> str | None:
    try:
        return openai_shapes.model_of(ctx.request.json)
    except GatewayError:  # a body that is not JSON names no model
        return None
