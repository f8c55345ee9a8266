"""Fixtures for the cache's tests: both backends, an upstream that counts its calls, cached gateways.

Test modules are imported with ``--import-mode=importlib``, so what they share lives here as
fixtures rather than in an importable helper module.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Awaitable, Callable, Iterator

import httpx
import pytest

from aiproxy_cache import Cache
from aiproxy_core import create_mock_upstream
from aiproxy_sdk import GatewayHarness, ServerThread

#: A request with this header gets its stream cut before ``[DONE]`` by the recording upstream.
CUT_STREAM = "x-test-cut-stream"


class RecordingUpstream:
    """The mock upstream, counting chat completion calls; can cut a stream short on request."""

    def __init__(self) -> None:
        self.app = create_mock_upstream()
        self.chat_calls = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].endswith("/chat/completions"):
            self.chat_calls += 1
        if (CUT_STREAM.encode(), b"1") not in scope["headers"]:
            await self.app(scope, receive, send)
            return

        async def cutting(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and b"[DONE]" in message.get("body", b""):
                message = {"type": "http.response.body", "body": b"", "more_body": True}
            await send(message)

        await self.app(scope, receive, cutting)


@pytest.fixture(scope="session")
def recording_upstream() -> Iterator[tuple[RecordingUpstream, str]]:
    upstream = RecordingUpstream()
    with ServerThread(upstream) as url:
        yield upstream, url


@pytest.fixture
def upstream(recording_upstream: tuple[RecordingUpstream, str]) -> RecordingUpstream:
    return recording_upstream[0]


@pytest.fixture
def backend(aiproxy_backend: dict[str, Any] | None) -> dict[str, Any] | None:
    """None (an embedded gateway: answers in memory) or a Redis section with a fresh prefix."""
    return aiproxy_backend


class CachedGateway:
    """A harness whose rule has one cache entry, and that entry's :class:`Cache`."""

    def __init__(self, harness: GatewayHarness, cache: Cache) -> None:
        self.harness = harness
        self.cache = cache

    async def chat(self, content: str = "Hello!", **body: Any) -> httpx.Response:
        """Send a chat completion, then wait until its answer is stored (post_response is async)."""
        response = await self.harness.chat(content, **body)
        await self.cache.idle()
        return response

    async def second_tenant(self) -> "TenantClient":
        """Another tenant on the same gateway (same store), with the same cached rule."""
        gw = self.harness
        subdomain = "t" + uuid.uuid4().hex[:10]
        made = await gw.admin.post("/api/v1/tenants", json={"name": f"Tenant {subdomain}", "subdomain": subdomain})
        assert made.status_code == 201, made.text
        tenant = made.json()
        rule = {k: v for k, v in gw.rule.items() if k in {"path", "target", "plugin_chain"}}
        created = await gw.admin.post(
            f"/api/v1/tenants/{tenant['id']}/rules", headers={"Authorization": f"Bearer {tenant['api_key']}"}, json=rule
        )
        assert created.status_code == 201, created.text
        client = gw.proxy_client(tenant["api_key"])
        client.base_url = httpx.URL(f"http://{subdomain}.{gw.gateway.config.server.base_domain}")
        return TenantClient(client, self.cache)


class TenantClient:
    def __init__(self, client: httpx.AsyncClient, cache: Cache) -> None:
        self.client = client
        self.cache = cache

    async def chat(self, content: str = "Hello!", **body: Any) -> httpx.Response:
        payload = {"model": "mock-model", "messages": [{"role": "user", "content": content}], **body}
        response = await self.client.post("/v1/chat/completions", json=payload)
        await self.cache.idle()
        return response


StartCached = Callable[..., Awaitable[CachedGateway]]


@pytest.fixture
def cached_gateway(
    aiproxy_gateway_factory: Any, backend: dict[str, Any] | None, recording_upstream: tuple[RecordingUpstream, str]
) -> StartCached:
    """``await cached_gateway(settings)``: a gateway whose rule caches with ``settings``."""

    async def start(settings: dict[str, Any] | None = None) -> CachedGateway:
        cache = Cache()
        harness = await aiproxy_gateway_factory(
            plugins={"cache": cache},
            chain=[{"name": "cache", "settings": settings or {}}],
            redis=backend,
            upstream_url=recording_upstream[1],
        )
        return CachedGateway(harness, cache)

    return start


@pytest.fixture
def sse_answer() -> Callable[[str], dict[str, Any]]:
    """Parse a streamed chat completion: its content, finish reason, usage and whether it ended."""

    def parse(text: str) -> dict[str, Any]:
        content, finish, usage, done = [], None, None, False
        for line in text.splitlines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                done = True
                continue
            event = json.loads(data)
            assert event["object"] == "chat.completion.chunk"
            usage = event.get("usage") or usage
            for choice in event["choices"]:
                content.append(choice["delta"].get("content") or "")
                finish = choice["finish_reason"] or finish
        return {"content": "".join(content), "finish_reason": finish, "usage": usage, "done": done}

    return parse
