"""The ``moderation`` plugin: its hooks, and what each stage does.

* ``pre_request``: PII in the prompt redacted (or flagged, or blocked), then the user's words
  moderated: 400 ``content_flagged``, a flag, or nothing.
* ``post_request``: a whole answer moderated, and its placeholders restored (``restore_pii``).
* ``response_chunk``: the same for an event stream, event by event.
* ``startup``: models loaded if a saved chain needs them; ``shutdown``: the remote pool closed.
"""

from __future__ import annotations

from pydantic import BaseModel

from aiproxy_core import GatewayServices, ProxyResponse, RequestContext, hookimpl

from .answer_check import check_answer
from .prompt_check import check_prompt
from .remote_backend import close_sessions
from .settings import ModerationSettings
from .stream_check import guard_chunk
from .verdicts import PLUGIN_NAME
from .warm_up import warm_up

__all__ = ["PLUGIN_NAME", "post_request", "pre_request", "response_chunk", "settings_model", "shutdown", "startup"]


@hookimpl
def settings_model() -> type[BaseModel]:
    return ModerationSettings


@hookimpl
def startup(services: GatewayServices) -> object:
    return warm_up(services)


@hookimpl
def shutdown(services: GatewayServices) -> object:
    return close_sessions()


@hookimpl
async def pre_request(ctx: RequestContext, settings: ModerationSettings) -> None:
    await check_prompt(ctx, settings)


@hookimpl
async def post_request(ctx: RequestContext, settings: ModerationSettings) -> ProxyResponse | None:
    return await check_answer(ctx, settings)


@hookimpl
async def response_chunk(ctx: RequestContext, settings: ModerationSettings, chunk: bytes) -> bytes | None:
    response = ctx.response
    if response is None or not response.is_event_stream or not 200 <= response.status < 300:
        return None
    return await guard_chunk(ctx, settings, chunk)
