"""A stateful plugin with no storage code: each consumer may use ``tokens_per_day`` tokens a UTC day.

Its state is one counter per consumer in the core's state API (``ctx.services.state(PLUGIN)``),
so the same code runs on SQLite (an embedded gateway) and on Redis, and a deleted tenant's
counters go with it without a ``tenant_deleted`` hook. README.md beside this file walks through it.

* ``pre_request``: reserve what the request may use (its ``max_tokens``, plus in ``total`` mode a
  bound on its prompt) in today's counter, with the allowance as the counter's ceiling; refuse
  with 429 ``daily_tokens_exhausted`` when it does not fit.
* ``response_chunk``: note the usage a stream reports in its last chunk.
* ``post_response``: settle: give back what the answer did not use, or count what it used beyond
  the reservation, so the day's count is what the upstream reported.

Register it under the ``aiproxy`` entry-point group, or pass it to the SDK harness as
``plugins={"daily_token_allowance": daily_token_allowance}``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from aiproxy_core import BadRequest, GatewayServices, ProxyRequest, ProxyResponse, RateLimited, RequestContext, hookimpl, sse

#: The plugin's name: its state namespace and its key in ``ctx.state``.
PLUGIN = "daily_token_allowance"
#: A fixed window of one day: the store aligns fixed windows to their length, so it ends at 00:00 UTC.
DAY = 86_400.0
#: The ceiling for charging what an answer used beyond its reservation: tokens already spent are
#: counted whatever the allowance says (an integer every backend holds exactly).
NO_CEILING = 2**53 - 1


class Settings(BaseModel):
    #: Tokens each consumer (or, for the tenant's own keys, each key) may use per UTC day.
    tokens_per_day: int = Field(gt=0)
    #: ``total``: prompt and answer (``usage.total_tokens``); ``output``: the answer only.
    count: Literal["total", "output"] = "total"
    #: What a request that names no ``max_tokens`` reserves for its answer.
    default_max_tokens: int = Field(default=1024, gt=0)


@dataclass
class Reservation:
    """What one request holds between its hooks (kept in ``ctx.state[PLUGIN]``)."""

    counters: Any  # the tenant's Counters of this plugin
    name: str
    reserved: int
    #: ``time.monotonic()`` when the day it was counted in ends: settling after that would
    #: credit the next day with a reservation it never held.
    settle_by: float
    usage: dict[str, Any] | None = None


@hookimpl
def settings_model() -> type[Settings]:
    return Settings


@hookimpl
async def pre_request(ctx: RequestContext, settings: Settings) -> None:
    assert ctx.services is not None  # the gateway always hands its services to a request
    counters = ctx.services.state(PLUGIN).counters(ctx.tenant.id)
    name = spender(ctx)
    body = json_body(ctx.request)
    estimate = completion_budget(body, settings.default_max_tokens)
    if settings.count == "total" and body:
        # A prompt has at most as many tokens as its JSON has bytes (byte-level BPE tokens are at
        # least one byte each, and the JSON around each message outweighs its few format tokens).
        # Pessimistic, but the difference is given back when the answer says what it used.
        estimate += len(ctx.request.body)

    if estimate > settings.tokens_per_day:
        # No wait would let it in: say what to change instead of sending the consumer to tomorrow.
        raise BadRequest(
            f"this request may use up to {estimate} tokens, more than the {settings.tokens_per_day} a consumer"
            " may use in a day; lower max_tokens (or shorten the prompt)",
            code="request_exceeds_daily_tokens",
        )
    verdict = await counters.add(name, estimate, limit=settings.tokens_per_day, window=DAY, kind="fixed")
    ctx.response_headers["X-Tokens-Limit-Today"] = str(settings.tokens_per_day)
    ctx.response_headers["X-Tokens-Remaining-Today"] = str(max(0, math.floor(verdict.remaining)))
    if not verdict.allowed:
        raise RateLimited(
            f"this request may use up to {estimate} tokens and {max(0, math.floor(verdict.remaining))} of this"
            f" consumer's {settings.tokens_per_day} tokens for today are left; the allowance renews at 00:00 UTC"
            " (a lower max_tokens may fit now)",
            code="daily_tokens_exhausted",
            headers={"Retry-After": str(max(1, math.ceil(verdict.retry_after)))},
        )
    ctx.state[PLUGIN] = Reservation(counters, name, estimate, time.monotonic() + verdict.reset_after)
    if body.get("stream") is True:
        ask_for_stream_usage(ctx.request, body)


@hookimpl
def response_chunk(ctx: RequestContext, chunk: bytes) -> None:
    reservation = ctx.state.get(PLUGIN)
    if reservation is not None:
        usage = sse.last_usage(chunk)  # one substring search for chunks without usage
        if usage is not None:
            reservation.usage = usage


@hookimpl
async def post_response(ctx: RequestContext, settings: Settings) -> None:
    reservation: Reservation | None = ctx.state.pop(PLUGIN, None)
    if reservation is None or time.monotonic() >= reservation.settle_by:
        return  # refused here or before us; or its day is over (that day's count no longer matters)
    spent = tokens_spent(ctx.response, reservation, settings.count)
    if spent < reservation.reserved:
        await reservation.counters.refund(reservation.name, reservation.reserved - spent, window=DAY, kind="fixed")
    elif spent > reservation.reserved:
        await reservation.counters.add(reservation.name, spent - reservation.reserved, limit=NO_CEILING, window=DAY, kind="fixed")


async def used_today(services: GatewayServices, tenant_id: str, spender_name: str, settings: Settings) -> int:
    """Tokens ``spender_name`` (see :func:`spender`) used or holds reserved today: for reports and tests."""
    counters = services.state(PLUGIN).counters(tenant_id)
    verdict = await counters.peek(spender_name, limit=settings.tokens_per_day, window=DAY, kind="fixed")
    return math.floor(verdict.count)


def spender(ctx: RequestContext) -> str:
    """Whose allowance a request uses: its consumer's, or for a tenant's own key, that key's."""
    consumer_id = ctx.consumer_id
    return f"consumer:{consumer_id}" if consumer_id is not None else f"key:{ctx.api_key.id}"


def json_body(request: ProxyRequest) -> dict[str, Any]:
    """The request's JSON object ({} for other bodies: uploads, GETs), parsed once by the core."""
    if not request.headers.get("content-type", "").lower().startswith("application/json"):
        return {}
    body = request.json
    return body if isinstance(body, dict) else {}


def completion_budget(body: dict[str, Any], default: int) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return default


def ask_for_stream_usage(request: ProxyRequest, body: dict[str, Any]) -> None:
    """OpenAI sends a stream's usage only when asked (``stream_options.include_usage``)."""
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return
    request.set_json({**body, "stream_options": {**(options if isinstance(options, dict) else {}), "include_usage": True}})


def tokens_spent(response: ProxyResponse | None, reservation: Reservation, count: str) -> int:
    """What the answer used, by its own ``usage``; an answer that reports none keeps the reservation."""
    if response is None or response.status >= 400:
        return 0  # refused after us, or failed upstream: no tokens were produced
    usage = reservation.usage
    if usage is None and response.body:
        try:
            data = response.json
        except ValueError:
            data = None
        usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return reservation.reserved
    # Chat completions say prompt/completion tokens; the Responses API says input/output.
    output = usage.get("completion_tokens", usage.get("output_tokens", 0))
    prompt = usage.get("prompt_tokens", usage.get("input_tokens", 0))
    if not _is_count(output) or not _is_count(prompt):
        return reservation.reserved
    return output if count == "output" else prompt + output


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
