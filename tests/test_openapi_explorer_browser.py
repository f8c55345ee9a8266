"""The explorers in a real Chromium, on a real gateway (uvicorn): ``/docs`` on the Admin
listener and a tenant's ``/-/docs`` load with nothing leaving loopback, render their operations,
and the tenant's try-it sends a real chat completion through the proxy to the mock upstream.

Each page is saved as a PNG (``admin-docs.png``, ``tenant-docs.png``): in the test's own folder,
or, with ``AIPROXY_UPDATE_SCREENSHOTS=1``, in docs/screenshots/, the pictures the README shows (so
a plain test run leaves the work tree as it was).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from aiproxy_core import GatewayConfig
from aiproxy_sdk.live import LiveGateway

DOCS_SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def _config(tmp_path: Path) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "server": {"base_domain": "localhost"},
            "storage": {"path": str(tmp_path / "aiproxy.db")},
            "upstream": {"allowed_networks": ["127.0.0.1/32"]},
        }
    )


def _csp_complaints(tab: Any) -> list[str]:
    complaints: list[str] = []
    tab.on("console", lambda message: complaints.append(message.text) if "Content Security Policy" in message.text else None)
    return complaints


async def test_the_explorers_render_and_the_tenants_try_it_reaches_the_upstream(aiproxy_browser, aiproxy_mock_upstream, tmp_path):
    pictures = DOCS_SCREENSHOTS if os.environ.get("AIPROXY_UPDATE_SCREENSHOTS") == "1" else tmp_path
    with LiveGateway(_config(tmp_path)) as live:
        async with httpx.AsyncClient(base_url=live.admin_url) as admin:
            tenant = (await admin.post("/api/v1/tenants", json={"name": "Acme AI", "subdomain": "acme"})).json()
            rule = await admin.post(
                f"/api/v1/tenants/{tenant['id']}/rules",
                headers={"Authorization": f"Bearer {tenant['api_key']}"},
                json={"path": "/v1", "target": aiproxy_mock_upstream + "/v1", "strip_path": True},
            )
            assert rule.status_code == 201, rule.text

        tab = await aiproxy_browser.new_page(viewport={"width": 1280, "height": 900})
        complaints = _csp_complaints(tab)
        await tab.goto(live.admin_url + "/docs")
        await tab.wait_for_selector(".opblock-summary-path", timeout=30_000)
        assert await tab.locator(".opblock").count() > 20
        assert await tab.locator(".opblock-summary-path", has_text="/api/v1/tenants/{tenant_id}/rules").count() >= 1
        await tab.screenshot(path=str(pictures / "admin-docs.png"))

        port = urlsplit(live.proxy_url).port
        tab = await aiproxy_browser.new_page(viewport={"width": 1280, "height": 1800})
        complaints += _csp_complaints(tab)
        await tab.goto(f"http://acme.localhost:{port}/-/docs")
        await tab.wait_for_selector(".opblock-summary-path", timeout=30_000)
        assert await tab.locator(".opblock-summary-path").all_inner_texts() == ["/v1/chat/completions", "/v1/embeddings", "/v1/models"]

        # The user types the key in Authorize, opens chat completions and sends the example.
        await tab.click("button.authorize")
        await tab.locator(".auth-container input").first.fill(tenant["api_key"])
        await tab.locator(".auth-container button.authorize").first.click()
        await tab.click("button.btn-done")
        await tab.locator(".opblock-summary-path", has_text="/v1/chat/completions").click()
        await tab.click("button.try-out__btn")
        await tab.click("button.execute")
        status = tab.locator(".live-responses-table tbody .response-col_status").first
        await status.wait_for(timeout=30_000)
        assert (await status.inner_text()).strip() == "200"
        body = await tab.locator(".live-responses-table tbody .response-col_description pre").first.inner_text()
        assert "You said: Hello!" in body
        # The picture: the operation's title, the request sent and the answer that came back.
        await tab.locator(".opblock.is-open .opblock-summary").first.evaluate("element => element.scrollIntoView()")
        await tab.screenshot(path=str(pictures / "tenant-docs.png"))
        assert complaints == []
    assert (pictures / "admin-docs.png").stat().st_size > 10_000 and (pictures / "tenant-docs.png").stat().st_size > 10_000
