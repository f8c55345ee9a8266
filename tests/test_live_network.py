"""Through real sockets: the official openai client, and SSE arriving event by event."""

from __future__ import annotations

import asyncio
import threading

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from aiproxy_core import GatewayConfig
from aiproxy_sdk import LiveGateway, ServerThread

BASE_DOMAIN = "gateway.test"


@pytest.fixture
def live(tmp_path, aiproxy_backend):
    config = {
        "server": {"base_domain": BASE_DOMAIN},
        "storage": {"path": str(tmp_path / "live.db")},
        "upstream": {"allowed_networks": ["127.0.0.1/32"]},  # the test upstreams run on loopback
    }
    if aiproxy_backend is not None:
        config["redis"] = aiproxy_backend
    with LiveGateway(GatewayConfig.model_validate(config)) as gateway:
        yield gateway


def seed(live: LiveGateway, target: str) -> tuple[str, str]:
    """Create a tenant and a /v1 rule the way the README's curls do; return (host, key)."""
    with httpx.Client(base_url=live.admin_url) as admin:
        tenant = admin.post("/api/v1/tenants", json={"name": "Live", "subdomain": "live"}).json()
        rule = admin.post(
            f"/api/v1/tenants/{tenant['id']}/rules",
            headers={"Authorization": f"Bearer {tenant['api_key']}"},
            json={"path": "/v1", "target": target, "methods": ["POST", "GET"]},
        )
        assert rule.status_code == 201, rule.text
    return f"live.{BASE_DOMAIN}", tenant["api_key"]


def openai_client(live: LiveGateway, host: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=live.proxy_url + "/v1", api_key=key, default_headers={"Host": host}, max_retries=0)


def test_openai_client_plain_and_streaming(live, aiproxy_mock_upstream):
    host, key = seed(live, aiproxy_mock_upstream)
    client = openai_client(live, host, key)
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello!"}])
    assert completion.choices[0].message.content == "You said: Hello!"
    assert completion.usage.total_tokens == 4

    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "stream this please"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: stream this please"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5


def test_openai_client_sees_gateway_errors_as_its_own_exceptions(live, aiproxy_mock_upstream):
    host, key = seed(live, aiproxy_mock_upstream)
    with pytest.raises(openai.AuthenticationError) as bad_key:
        openai_client(live, host, "aip_wrong").chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert bad_key.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError):
        openai_client(live, "nobody." + BASE_DOMAIN, key).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])


def test_sse_reaches_the_client_event_by_event(live):
    """The upstream sends one event, then waits until the test has seen it through the gateway.

    A gateway that buffered the stream would never pass the first event on, and the read times out.
    """
    seen_first = threading.Event()

    async def stream(request):
        async def events():
            yield b'data: {"n": 1}\n\n'
            while not seen_first.is_set():
                await asyncio.sleep(0.01)
            yield b'data: {"n": 2}\n\n'
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    with ServerThread(Starlette(routes=[Route("/v1/chat/completions", stream, methods=["POST"])])) as upstream:
        host, key = seed(live, upstream)
        with httpx.Client(timeout=10) as client, client.stream(
            "POST",
            live.proxy_url + "/v1/chat/completions",
            headers={"Host": host, "Authorization": f"Bearer {key}"},
            json={"stream": True},
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            first = next(line for line in lines if line)
            assert first == 'data: {"n": 1}'
            seen_first.set()
            rest = [line for line in lines if line]
    assert rest == ['data: {"n": 2}', "data: [DONE]"]


def test_a_client_that_leaves_mid_stream_stops_the_upstream_read(live):
    """After the client disconnects, the gateway closes its upstream stream instead of draining it."""
    upstream_closed = threading.Event()
    client_gone = threading.Event()

    async def stream(request):
        async def events():
            try:
                yield b'data: {"n": 1}\n\n'
                while not client_gone.is_set():
                    await asyncio.sleep(0.01)
                for n in range(2, 1000):
                    yield f'data: {{"n": {n}}}\n\n'.encode()
                    await asyncio.sleep(0.01)
            finally:
                upstream_closed.set()

        return StreamingResponse(events(), media_type="text/event-stream")

    with ServerThread(Starlette(routes=[Route("/v1/chat/completions", stream, methods=["POST"])])) as upstream:
        host, key = seed(live, upstream)
        with httpx.Client(timeout=10) as client, client.stream(
            "POST", live.proxy_url + "/v1/chat/completions", headers={"Host": host, "Authorization": f"Bearer {key}"}, json={}
        ) as response:
            next(response.iter_lines())
        client_gone.set()
        # 998 more events at 10 ms each would take ~10 s if the gateway drained them.
        assert upstream_closed.wait(timeout=5), "the gateway kept reading the upstream after the client left"
