"""What a target's provider and format change about a request and its answer: the body (a model
mapped, a format translated), the headers, and the cost the answer's usage comes to."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, AsyncIterator

from ..errors import BadRequest, GatewayError, UpstreamUnreachable
from ..json_text import loads
from ..proxy.streaming import close_stream, sse_events
from ..translation import (
    AnthropicToOpenAIStream,
    OpenAIToAnthropicStream,
    TranslationError,
    anthropic_error_body,
    anthropic_request,
    anthropic_response,
    openai_error_body,
    openai_request,
    openai_response,
)
from .cost import RequestCost
from .route_targets import ANTHROPIC_VERSION, RouteTarget

if TYPE_CHECKING:
    from ..context import ProxyResponse, RequestContext

__all__ = ["FormatBridge"]

TO_ANTHROPIC = "openai_to_anthropic"
TO_OPENAI = "anthropic_to_openai"
#: Headers of one API that mean nothing (or the wrong thing) to the other.
_ANTHROPIC_ONLY = frozenset({"anthropic-version", "anthropic-beta"})


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class FormatBridge:
    def __init__(self, cost: RequestCost) -> None:
        self.cost = cost

    def request_body(self, ctx: RequestContext, target: RouteTarget, translation: str) -> bytes:
        request = ctx.request
        if not translation and not target.model:
            return request.body
        body = request.json
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object for this route", code="invalid_request_body")
        if translation:
            try:
                translated = anthropic_request(body, model=target.model) if translation == TO_ANTHROPIC else openai_request(body, model=target.model)
            except TranslationError as exc:
                raise BadRequest(str(exc), code="untranslatable_request") from None
            return _dumps(translated)
        return _dumps({**body, "model": target.model})

    def request_headers(self, headers: list[tuple[str, str]], target: RouteTarget, translation: str) -> list[tuple[str, str]]:
        extra = target.headers
        anthropic = target.provider == "anthropic"
        if not extra and not translation and not anthropic:
            return headers
        replaced = {name.lower() for name, _ in extra}
        if translation:
            replaced.add("accept-encoding")
            if translation == TO_OPENAI:
                replaced |= _ANTHROPIC_ONLY
        out = [(name, value) for name, value in headers if name.lower() not in replaced]
        if translation:
            out.append(("accept-encoding", "identity"))  # the gateway must read the answer to translate it
        if anthropic and "anthropic-version" not in replaced and not any(n.lower() == "anthropic-version" for n, _ in out):
            out.append(("anthropic-version", ANTHROPIC_VERSION))
        out.extend(extra)
        return out

    def finish_plain(self, ctx: RequestContext, target: RouteTarget, translation: str, response: ProxyResponse) -> None:
        """Translate a whole answer and put its cost on it."""
        body = response.body or b""
        if _encoded(response):
            return
        parsed: Any = None
        if translation:
            if response.status >= 400:
                response.body = openai_error_body(response.status, body) if translation == TO_ANTHROPIC else anthropic_error_body(response.status, body)
            else:
                parsed = _parsed(body)
                if not isinstance(parsed, dict):
                    raise _bad_answer()
                parsed = openai_response(parsed) if translation == TO_ANTHROPIC else anthropic_response(parsed)
                response.body = _dumps(parsed)
            response.headers["content-type"] = "application/json"
        # find(), not `in`: on 3.11 `bytes in bytes` first tries the needle as an int and builds
        # and clears a TypeError (~1.8 k instructions) before it searches.
        if response.status >= 400 or (response.body or b"").find(b'"usage"') < 0:
            return
        if parsed is None:
            try:
                parsed = response.json  # parsed once: hooks that read ctx.response.json get this parse
            except ValueError:
                parsed = None
        if isinstance(parsed, dict):
            self.cost.of_answer(ctx, target, parsed)

    def finish_stream(
        self, ctx: RequestContext, target: RouteTarget, translation: str, response: ProxyResponse, is_stream: bool, stream_chunks: bool
    ) -> None:
        """Translate a streamed answer event by event, and report its cost in its final usage."""
        if not is_stream or response.status >= 400 or _encoded(response) or response.stream is None:
            return
        stream = response.stream
        if translation == TO_ANTHROPIC:
            include_usage = _asks_usage(ctx)
            stream = _translated(stream, AnthropicToOpenAIStream(target.model, include_usage))
        elif translation == TO_OPENAI:
            stream = _translated(stream, OpenAIToAnthropicStream(target.model))
        else:
            stream = sse_events(stream)
        response.stream = self.cost.of_stream(ctx, target, stream)


def _asks_usage(ctx: RequestContext) -> bool:
    try:
        body = ctx.request.json
    except GatewayError:
        return False
    options = body.get("stream_options") if isinstance(body, dict) else None
    return isinstance(options, dict) and options.get("include_usage") is True


async def _translated(chunks: AsyncIterator[bytes], translator: AnthropicToOpenAIStream | OpenAIToAnthropicStream) -> AsyncIterator[bytes]:
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


def _parsed(body: bytes) -> Any:
    try:
        return loads(body)
    except ValueError:
        return None


def _encoded(response: ProxyResponse) -> bool:
    """A compressed answer (``Content-Encoding``) is passed on as it is: nothing here reads it."""
    # Over the raw pairs (names are lowercase there): Headers.get would decode each name and
    # raise and catch a KeyError for the header most answers lack.
    for name, value in response.headers.raw:
        if name == b"content-encoding":
            return value.lower() != b"identity"
    return False


def _bad_answer() -> GatewayError:
    return GatewayError("the upstream of this route answered with a body that is not a JSON object; it could not be translated", code="upstream_bad_response", status=502)

