"""The seed README's three curls, verbatim bodies, against a real gateway with the seed's plugins installed."""

from __future__ import annotations

import shutil
import subprocess

import httpx
import pytest

from aiproxy_core import GatewayConfig
from aiproxy_sdk import LiveGateway
from aiproxy_sdk.seed_examples import SEED_CHAT, SEED_RULE, SEED_TENANT

def curl(*args: str) -> tuple[int, str]:
    """Run curl as the README does; return (status, body)."""
    result = subprocess.run(["curl", "-s", "-w", "\\n%{http_code}", *args], capture_output=True, text=True, timeout=30)
    body, _, status = result.stdout.rpartition("\n")
    return int(status), body


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_seed_curls_work_end_to_end(tmp_path, aiproxy_backend, aiproxy_mock_upstream):
    # The operator allows the local mock upstream (rules may not target loopback by default).
    config = {
        "server": {"base_domain": "example.com"},
        "storage": {"path": str(tmp_path / "seed.db")},
        "upstream": {"allowed_networks": ["127.0.0.1/32"]},
    }
    if aiproxy_backend is not None:
        config["redis"] = aiproxy_backend
    with LiveGateway(GatewayConfig.model_validate(config)) as live:
        status, body = curl("-X", "POST", f"{live.admin_url}/api/v1/tenants", "-H", "Content-Type: application/json", "-d", SEED_TENANT)
        assert status == 201, body
        tenant = httpx.Response(200, content=body).json()
        key, tenant_id = tenant["api_key"], tenant["id"]

        status, body = curl(
            "-X", "POST", f"{live.admin_url}/api/v1/tenants/{tenant_id}/rules",
            "-H", f"Authorization: Bearer {key}", "-H", "Content-Type: application/json", "-d", SEED_RULE,
        )  # fmt: skip
        assert status == 201, body
        rule = httpx.Response(200, content=body).json()

        # There is no network here: point the seed's rule at the mock upstream's chat endpoint
        # (strip_path true: the matched path is cut, the target's path is used as it is).
        local = SEED_RULE.replace('"https://api.openai.com"', f'"{aiproxy_mock_upstream}/v1/chat/completions"')
        status, body = curl(
            "-X", "PUT", f"{live.admin_url}/api/v1/tenants/{tenant_id}/rules/{rule['id']}",
            "-H", f"Authorization: Bearer {key}", "-H", "Content-Type: application/json", "-d", local,
        )  # fmt: skip
        assert status == 200, body

        proxy = live.proxy_url.replace("127.0.0.1", "testcompany.example.com")
        port = live.proxy_url.rsplit(":", 1)[1]
        resolve = ["--resolve", f"testcompany.example.com:{port}:127.0.0.1"]
        call = [
            "-X", "POST", f"{proxy}/v1/chat/completions", *resolve,
            "-H", f"Authorization: Bearer {key}", "-H", "Content-Type: application/json",
        ]  # fmt: skip
        status, body = curl(*call, "-H", "X-Request-ID: req-123", "-d", SEED_CHAT, "-D", str(tmp_path / "headers"))
        assert status == 200, body
        assert httpx.Response(200, content=body).json()["choices"][0]["message"]["content"] == "You said: Hello!"
        headers = (tmp_path / "headers").read_text().lower()
        assert "x-request-id: req-123" in headers and "ratelimit-policy:" in headers

        status, body = curl(*call, "-d", SEED_CHAT)
        assert status == 400, body
        error = httpx.Response(200, content=body).json()["error"]
        assert error["code"] == "missing_required_header" and "X-Request-ID" in error["message"]
