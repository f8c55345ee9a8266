"""An answer the upstream broke off is not billed; one the client walked away from is (issue #9.4)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from aiproxy_sdk import ServerThread

_EVENT = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'


def _upstream() -> Starlette:
    async def chat(request: Request) -> Response:
        cut = request.headers.get("x-test-cut") == "yes"

        async def events():
            yield _EVENT
            await asyncio.sleep(0.02)
            if cut:
                raise RuntimeError("the origin died mid-answer")
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@pytest.fixture(scope="module")
def cutting_upstream():
    with ServerThread(_upstream()) as url:
        yield url


async def test_a_stream_the_upstream_cut_off_is_not_billed(billing_gateway: Any, plugin_of: Any, wait_for: Any, cutting_upstream: str) -> None:
    gw = await billing_gateway(upstream_url=cutting_upstream)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    cut = await gw.proxy.post("/v1/chat/completions", json=body, headers={"X-Test-Cut": "yes"})
    assert cut.status_code == 200 and "upstream_stream_interrupted" in cut.text and "[DONE]" not in cut.text
    whole = await gw.proxy.post("/v1/chat/completions", json=body)
    assert "[DONE]" in whole.text
    ledger = plugin_of(gw).backend().ledger
    await wait_for(lambda: _count_is(ledger, gw.tenant["id"], 1))
    await gw.settle()
    assert await ledger.count(gw.tenant["id"]) == 1  # the whole answer only


async def _count_is(ledger: Any, tenant_id: str, count: int) -> bool:
    return await ledger.count(tenant_id) == count
