"""Fixtures for content_validator's tests: a gateway with the plugin, streaming, a chunked upstream."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest
from aiproxy_sdk.stream_reading import streamed_text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from aiproxy_content_validator import plugin
from aiproxy_sdk import GatewayHarness, ServerThread

MakeGateway = Callable[..., Awaitable[GatewayHarness]]
StreamChat = Callable[..., Awaitable[list[Any]]]


@pytest.fixture
def make_gateway(aiproxy_gateway_factory: Callable[..., Awaitable[GatewayHarness]]) -> MakeGateway:
    """``await make_gateway(settings)``: a gateway whose rule runs content_validator with ``settings``."""

    async def make(settings: dict[str, Any], **options: Any) -> GatewayHarness:
        chain = [{"name": "content_validator", "settings": settings}]
        return await aiproxy_gateway_factory(plugins={"content_validator": plugin}, chain=chain, **options)

    return make


@pytest.fixture
def stream_chat() -> StreamChat:
    """``await stream_chat(gw, "hi")``: the streamed answer's events, JSON-decoded ("[DONE]" kept)."""

    async def stream(gw: GatewayHarness, content: str, **body: Any) -> list[Any]:
        return await gw.chat_stream(content, **body)

    return stream


@pytest.fixture
def assistant_text() -> Callable[[list[Any]], str]:
    """The assistant's text joined from streamed events."""
    return streamed_text


async def _chunked_json(request: Request) -> Response:
    """A chat completion sent without Content-Length, so the gateway gets it as a stream."""
    body = await request.json()
    answer = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": body["say"]}}]}).encode()

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(answer), 16):
            yield answer[start : start + 16]

    return StreamingResponse(pieces(), media_type="application/json")


async def _plain_text(request: Request) -> Response:
    return PlainTextResponse("just words")


@pytest.fixture(scope="session")
def custom_upstream() -> Iterator[str]:
    """An upstream for answers the mock does not give.

    ``POST /v1/chunked`` answers ``{"say": ...}`` with a chunked JSON completion; ``/v1/text``
    answers plain text.
    """
    app = Starlette(routes=[Route("/v1/chunked", _chunked_json, methods=["POST"]), Route("/v1/text", _plain_text, methods=["POST"])])
    with ServerThread(app) as url:
        yield url
