"""``aiproxy serve --demo``: each start's key replaces the one before, and the mock upstream's lines
are its own (no traceback of it reaches the demo's terminal)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from aiproxy_core import Gateway, GatewayConfig, PluginRegistry
from aiproxy_core.server.demo import seed_demo
from aiproxy_sdk import GatewayProcess, free_ports

KEY = re.compile(r"Demo key\s*:\s*(aip_\S+)")


async def test_a_new_demo_key_revokes_the_ones_before(tmp_path, aiproxy_mock_upstream):
    mock_port = urlsplit(aiproxy_mock_upstream).port
    assert mock_port is not None
    config = GatewayConfig.model_validate({"storage": {"path": str(tmp_path / "aiproxy.db")}})
    gateway = Gateway(config, registry=PluginRegistry())
    await gateway.start()
    try:
        first = await seed_demo(gateway, mock_port)
        tenant = await gateway.store.get_tenant_by_subdomain("demo")
        assert tenant is not None
        # A key the operator made for the demo tenant is theirs: the demo leaves it alone.
        admin = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway.admin_app), base_url="http://localhost")
        own = await admin.post(f"/api/v1/tenants/{tenant.id}/keys", headers={"Authorization": f"Bearer {first}"}, json={"name": "mine"})
        assert own.status_code == 201, own.text
        second = await seed_demo(gateway, mock_port)
        keys = {key.name: key for key in await gateway.store.list_keys(tenant.id) if key.revoked_at is None}
        assert set(keys) == {"demo", "mine"}
        revoked = [key for key in await gateway.store.list_keys(tenant.id) if key.revoked_at is not None]
        assert len(revoked) == 1 and revoked[0].replaced_by == keys["demo"].id

        proxy = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway.proxy_app), base_url="http://demo.localhost")
        chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}
        old = await proxy.post("/v1/chat/completions", headers={"Authorization": f"Bearer {first}"}, json=chat)
        assert old.status_code == 401
        new = await proxy.post("/v1/chat/completions", headers={"Authorization": f"Bearer {second}"}, json=chat)
        assert new.status_code == 200, new.text
        await admin.aclose()
        await proxy.aclose()
    finally:
        await gateway.stop()


class Demo:
    """``aiproxy serve --demo`` on free ports (the SDK's GatewayProcess), its mock upstream's too."""

    def __init__(self, workdir: Path, **config: Any) -> None:
        admin_port, proxy_port, self.mock_port = free_ports(3)  # picked together: all distinct
        self.process = GatewayProcess(
            {"storage": {"path": str(workdir / "aiproxy.db")}, **config},
            workdir=workdir,
            args=("--demo", "--mock-port", str(self.mock_port)),
            ports=(admin_port, proxy_port),
        )
        self.proxy_port = self.process.proxy_port

    def __enter__(self) -> "Demo":
        self.process.start()
        deadline = time.monotonic() + 30
        while not KEY.search(self.text()):  # printed once the listeners are up and the demo seeded
            assert time.monotonic() < deadline, f"the demo printed no key:\n{self.text()}"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()

    def text(self) -> str:
        return self.process.log.read_text(errors="replace")

    @property
    def key(self) -> str:
        found = KEY.search(self.text())
        assert found, self.text()
        return found.group(1)

    def chat(self, key: str) -> httpx.Response:
        return httpx.post(
            f"{self.process.proxy_url}/v1/chat/completions",
            headers={"Host": f"demo.localhost:{self.proxy_port}", "Authorization": f"Bearer {key}"},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]},
            timeout=10,
        )


def test_the_demo_revokes_the_key_of_its_last_start(tmp_path):
    with Demo(tmp_path) as first:
        assert first.chat(first.key).status_code == 200
    with Demo(tmp_path) as second:
        assert second.key != first.key
        assert second.chat(first.key).status_code == 401
        assert second.chat(second.key).status_code == 200
        assert f"forwarding /v1 to the mock upstream on 127.0.0.1:{second.mock_port}" in second.text()


def test_the_mock_upstreams_lines_are_its_own_and_never_a_traceback(tmp_path):
    with Demo(tmp_path, logging={"access_log": True}) as demo:
        mock = f"http://127.0.0.1:{demo.mock_port}"
        # Requests that made the mock trace back before: a header number int() refuses although
        # str.isdigit() passes it ("²"), and JSON nested deeper than the parser's recursion limit.
        superscript = httpx.post(
            f"{mock}/v1/chat/completions", headers={"X-Mock-Status": "500", "X-Mock-Fail-Times": b"\xb2"}, json={}, timeout=10
        )
        assert superscript.status_code == 400 and superscript.json()["error"]["code"] == "invalid_mock_header"
        deep = httpx.post(f"{mock}/v1/chat/completions", content=b"[" * 100_000, timeout=10)
        assert deep.status_code == 400 and deep.json()["error"]["code"] == "invalid_json"
        # A stream the mock cuts on purpose: uvicorn reports the unfinished answer, as the mock's line.
        with httpx.stream(
            "POST", f"{mock}/v1/chat/completions", headers={"X-Mock-Fault": "close-mid-stream"},
            json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "one two three"}]}, timeout=10,
        ) as cut:
            with pytest.raises(httpx.HTTPError):
                cut.read()
        assert demo.chat(demo.key).status_code == 200
        deadline = time.monotonic() + 5
        while "completing response" not in demo.text() and time.monotonic() < deadline:
            time.sleep(0.05)
    terminal = demo.text()
    assert "Traceback" not in terminal, terminal
    mock_lines = [line for line in terminal.splitlines() if "aiproxy.mock_upstream" in line]
    assert mock_lines and all("[mock-upstream] " in line for line in mock_lines), terminal
    assert any("aiproxy.mock_upstream.access: [mock-upstream]" in line and '"POST /v1/chat/completions HTTP/1.1" 400' in line for line in mock_lines)
    assert any("aiproxy.mock_upstream: [mock-upstream] ASGI callable returned without completing response" in line for line in mock_lines)
    # The gateway's own access line is still uvicorn's (its format ends with the reason phrase).
    gateway_lines = [line for line in terminal.splitlines() if '"POST /v1/chat/completions HTTP/1.1" 200 OK' in line]
    assert gateway_lines and not any("mock" in line for line in gateway_lines), terminal
