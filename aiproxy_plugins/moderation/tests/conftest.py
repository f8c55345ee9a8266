"""Fixtures for moderation's tests: a gateway with the plugin, streaming, an echo of what went up,
and a tiny OpenAI-compatible moderation endpoint for the remote backend."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest
from aiproxy_sdk.stream_reading import streamed_text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aiproxy_moderation import plugin
from aiproxy_moderation.remote_backend import close_sessions, moderate_remotely
from aiproxy_sdk import GatewayHarness, ServerThread

MakeGateway = Callable[..., Awaitable[GatewayHarness]]


@pytest.fixture
def make_gateway(aiproxy_gateway_factory: Callable[..., Awaitable[GatewayHarness]]) -> MakeGateway:
    """``await make_gateway(settings)``: a gateway whose rule runs moderation with ``settings``."""

    async def make(settings: dict[str, Any] | None = None, **options: Any) -> GatewayHarness:
        entry: dict[str, Any] = {"name": "moderation"}
        if settings is not None:
            entry["settings"] = settings
        return await aiproxy_gateway_factory(plugins={"moderation": plugin}, chain=[entry], **options)

    return make


async def upstream_saw(gw: GatewayHarness, content: str, **body: Any) -> dict[str, Any]:
    """The JSON body the upstream received for a chat request (the mock echoes ``/v1/echo``)."""
    payload = {"model": "mock-model", "messages": [{"role": "user", "content": content}], **body}
    response = await gw.proxy.post("/v1/echo", json=payload)
    assert response.status_code == 200, response.text
    return json.loads(response.json()["body"])


@pytest.fixture
def echo() -> Callable[..., Awaitable[dict[str, Any]]]:
    return upstream_saw


async def stream_events(gw: GatewayHarness, content: str, **body: Any) -> list[Any]:
    """The streamed answer's events, JSON-decoded ("[DONE]" kept as the string)."""
    return await gw.chat_stream(content, **body)


@pytest.fixture
def stream_chat() -> Callable[..., Awaitable[list[Any]]]:
    return stream_events


@pytest.fixture
def assistant_text() -> Callable[[list[Any]], str]:
    return streamed_text


# -- a remote moderation endpoint -------------------------------------------------------------

#: What the fake endpoint received, so tests can check the request it was sent.
REMOTE_CALLS: list[dict[str, Any]] = []


async def _moderations(request: Request) -> Response:
    if request.headers.get("authorization") != "Bearer sk-remote-test":
        return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
    body = await request.json()
    REMOTE_CALLS.append(body)
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    results = []
    for text in inputs:
        violent = "violence" in text.lower()
        results.append(
            {
                "flagged": violent,
                "categories": {"violence": violent, "hate": False, "self-harm/intent": False},
                "category_scores": {"violence": 0.97 if violent else 0.01, "hate": 0.3, "self-harm/intent": 0.0},
            }
        )
    return JSONResponse({"id": "modr-1", "model": body.get("model", "omni-moderation-latest"), "results": results})


async def _broken(request: Request) -> Response:
    return Response("oops", status_code=500)


@pytest.fixture(scope="session")
def remote_moderation() -> Iterator[str]:
    """Base URL of a fake moderation service: ``/v1/moderations`` and a failing ``/broken``."""
    app = Starlette(routes=[Route("/v1/moderations", _moderations, methods=["POST"]), Route("/broken", _broken, methods=["POST"])])
    with ServerThread(app) as url:
        yield url


@pytest.fixture
async def moderate() -> AsyncIterator[Callable[..., Any]]:
    """``moderate_remotely`` called outside a gateway: its pooled session (the plugin's
    ``shutdown`` closes it in a gateway) is closed after the test, not left to the collector."""
    yield moderate_remotely
    await close_sessions()


@pytest.fixture
def remote_calls() -> list[dict[str, Any]]:
    """The bodies the fake moderation endpoint received (shared by the session's tests)."""
    return REMOTE_CALLS
