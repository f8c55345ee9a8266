"""The ``content_validator`` plugin: its hooks, and which checks each stage runs.

* ``pre_request``: the request's schema, model, token budget, messages and prompt guard.
* ``post_request``: a whole answer's schema and deny patterns (502 ``response_rejected``).
* ``response_chunk``: deny patterns over a streamed answer, event by event.

A check that is not configured costs nothing: the body is parsed only if a request check
needs it, and answers are looked at only if a response check is set.
"""

from __future__ import annotations

from pydantic import BaseModel

from aiproxy_core import ProxyResponse, RequestContext, hookimpl, openai_shapes

from .plain_response import check_plain_response, read_whole
from .prompt_guard import guard_prompt
from .refusals import PLUGIN_NAME, refused_request
from .request_limits import (
    check_message_chars,
    check_message_count,
    check_model,
    check_schema,
    check_token_cap,
    messages_of,
)
from .settings import ContentValidatorSettings
from .stream_guard import guard_chunk

__all__ = ["PLUGIN_NAME", "post_request", "pre_request", "response_chunk", "settings_model"]


@hookimpl
def settings_model() -> type[BaseModel]:
    return ContentValidatorSettings


@hookimpl
def pre_request(ctx: RequestContext, settings: ContentValidatorSettings) -> None:
    checks_content = settings.checks_request_content
    if settings.request_validator is None and not checks_content:
        return
    request = ctx.request
    # A bodiless request (GET /v1/models) asks for nothing these checks are about.
    if not request.body:
        return
    body = request.json  # a body that is not JSON is a 400 invalid_json from the core
    if settings.request_validator is not None:
        check_schema(settings.request_validator, body)
    if not checks_content:
        return
    if not isinstance(body, dict):
        raise refused_request("the request body must be a JSON object", "invalid_body", "body")
    messages = messages_of(body)
    if settings.allowed_models is not None:
        check_model(body, settings.allowed_models)
    if settings.max_tokens_cap is not None:
        check_token_cap(request, body, settings.max_tokens_cap, settings.clamp_max_tokens)
    if settings.max_messages is not None:
        check_message_count(messages, settings.max_messages)
    if settings.max_message_chars is not None:
        check_message_chars(messages, settings.max_message_chars)
    if settings.allow_patterns or settings.deny_patterns:
        guard_prompt(openai_shapes.prompt_texts(body, all_roles=settings.match_all_messages), settings.allow_patterns, settings.deny_patterns)


@hookimpl
async def post_request(ctx: RequestContext, settings: ContentValidatorSettings) -> ProxyResponse | None:
    response = ctx.response
    if not settings.checks_response or response is None or not 200 <= response.status < 300:
        return None
    if response.body is not None:
        check_plain_response(response, settings)
        return None
    if response.is_event_stream:
        return None  # checked event by event in response_chunk
    # A large or chunked plain answer arrives as a stream; hold it whole so it can be checked.
    whole = await read_whole(response, settings.max_response_bytes)
    check_plain_response(whole, settings)
    return whole


@hookimpl
def response_chunk(ctx: RequestContext, settings: ContentValidatorSettings, chunk: bytes) -> bytes | None:
    response = ctx.response
    if not settings.response_deny_patterns or response is None or not response.is_event_stream:
        return None
    return guard_chunk(ctx, settings.response_deny_patterns, settings.stream_lookback_chars, chunk)
