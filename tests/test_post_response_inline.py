"""post_response hooks that are all plain ``def`` run inline once the answer is sent (no task per
request); a chain with an ``async def`` one runs them after the answer too, in the request's own
task, while the listener goes on with the connection's next request."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiproxy_core import GatewayConfig, PluginRegistry, RequestContext, hookimpl
from aiproxy_core.chain.executor import post_response_failures
from aiproxy_sdk import LiveGateway


class Seen:
    def __init__(self) -> None:
        self.statuses: list[int] = []

    @hookimpl
    def post_response(self, ctx: RequestContext) -> None:
        assert ctx.response is not None
        self.statuses.append(ctx.response.status)


class Broken:
    @hookimpl
    def post_response(self, ctx: RequestContext) -> None:
        raise RuntimeError("the meter broke")


class Slow:
    def __init__(self) -> None:
        self.done = 0

    @hookimpl
    async def post_response(self, ctx: Any) -> None:
        await asyncio.sleep(0.05)
        self.done += 1


async def test_plain_hooks_run_inline_and_a_failure_only_counts(aiproxy_gateway_factory):
    seen = Seen()
    gw = await aiproxy_gateway_factory(plugins={"seen": seen, "broken": Broken()}, chain=[{"name": "broken"}, {"name": "seen"}])
    before = post_response_failures.get("broken", 0)
    response = await gw.chat()
    assert response.status_code == 200
    # No settle(): the hooks ran before the request's handler returned.
    assert seen.statuses == [200]
    assert post_response_failures.get("broken", 0) == before + 1
    assert not gw.gateway._background


async def test_a_chain_with_an_async_hook_runs_them_in_the_background(aiproxy_gateway_factory):
    seen, slow = Seen(), Slow()
    gw = await aiproxy_gateway_factory(plugins={"seen": seen, "slow": slow}, chain=[{"name": "slow"}, {"name": "seen"}])
    assert (await gw.chat()).status_code == 200
    await gw.settle()
    assert slow.done == 1 and seen.statuses == [200]


class Held:
    """An ``async def`` post_response that waits until the test releases it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = 0
        self.done = 0

    @hookimpl
    async def post_response(self, ctx: Any) -> None:
        self.started += 1
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        self.done += 1


@pytest.mark.parametrize("proxy_server", ["aiproxy", "uvicorn"])
def test_a_slow_post_response_holds_up_neither_its_answer_nor_the_next_request_on_the_connection(
    tmp_path: Path, aiproxy_mock_upstream: str, proxy_server: str
) -> None:
    # The hooks of an async chain run in the request's own task once its answer is out: the
    # listener must already be serving the connection's next request meanwhile.
    held = Held()
    registry = PluginRegistry()
    registry.register(held, "held")
    config = {
        "server": {"base_domain": "example.test", "proxy_server": proxy_server},
        "storage": {"path": str(tmp_path / "state.db")},
        "upstream": {"allowed_networks": ["127.0.0.1/32"]},
    }
    with LiveGateway(GatewayConfig.model_validate(config), registry) as live:
        with httpx.Client(base_url=live.admin_url, timeout=10) as admin:
            tenant = admin.post("/api/v1/tenants", json={"name": "Acme", "subdomain": "acme"}).json()
            rule = admin.post(
                f"/api/v1/tenants/{tenant['id']}/rules",
                headers={"Authorization": f"Bearer {tenant['api_key']}"},
                json={"path": "/v1", "target": aiproxy_mock_upstream, "plugin_chain": [{"name": "held"}]},
            )
            assert rule.status_code == 201, rule.text
        connection = http.client.HTTPConnection("127.0.0.1", int(live.proxy_url.rsplit(":", 1)[1]), timeout=5)
        headers = {"Host": "acme.example.test", "Authorization": f"Bearer {tenant['api_key']}", "Content-Type": "application/json"}
        body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
        try:
            for _ in range(2):  # one connection, kept alive: the second waits for nothing of the first
                connection.request("POST", "/v1/chat/completions", body, headers)
                answer = connection.getresponse()
                assert answer.status == 200 and json.loads(answer.read())["choices"]
        finally:
            connection.close()
        assert held.started >= 1 and held.done == 0  # the first's hook still waits: the second was answered
        # The second's hook starts just after its answer is out (the client may read it first).
        wait_for(lambda: held.started == 2)
        assert held.done == 0
        held.release.set()
        wait_for(lambda: held.done == 2)


def wait_for(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert condition()
