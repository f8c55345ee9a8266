"""The developer portal in a real Chromium against a real gateway (uvicorn listeners, billing in the
chain): it loads with nothing leaving loopback, the try-it console sends a real chat completion
through the proxy to the mock upstream and shows its answer, and a consumer signs in and sees the
usage billing reports, then rotates its key. With ``AIPROXY_SCREENSHOTS=1`` the signed-in view is
saved as docs/screenshots/portal.png (the README's picture); otherwise in the test's tmp dir."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from aiproxy_billing import Billing
from aiproxy_core import GatewayConfig, PluginRegistry
from aiproxy_sdk.live import LiveGateway

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshots" / "portal.png"

USAGE_REQUESTS = """() => {
  const terms = [...document.querySelectorAll('.plugin-section dt')].filter(dt => dt.textContent === 'requests');
  return terms.length ? terms[0].nextElementSibling.textContent : null;
}"""


def _live(tmp_path: Path) -> LiveGateway:
    config = GatewayConfig.model_validate({
        "server": {"base_domain": "localhost"},
        "storage": {"path": str(tmp_path / "aiproxy.db")},
        "upstream": {"allowed_networks": ["127.0.0.1/32"]},
    })
    registry = PluginRegistry()
    registry.register(Billing(run_worker=True), "billing")
    return LiveGateway(config, registry=registry)


async def _expect(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


async def _publish(admin: httpx.AsyncClient, upstream: str) -> tuple[str, str]:
    """A tenant ``acme`` selling a public plan over one billed chat API; a consumer's key on it."""
    tenant = await _expect(await admin.post("/api/v1/tenants", json={"name": "Acme AI", "subdomain": "acme"}))
    auth = {"Authorization": f"Bearer {tenant['api_key']}"}
    base = f"/api/v1/tenants/{tenant['id']}"
    plan = await _expect(await admin.post(base + "/plans", headers=auth, json={
        "name": "Pay as you go", "type": "pay_per_call", "price_per_request": "0.01", "public": True,
        "description": "One cent a request, no minimum."}))
    await _expect(await admin.post(base + "/rules", headers=auth, json={
        "path": "/v1", "target": upstream, "description": "OpenAI-compatible chat completions",
        "plugin_chain": [{"name": "billing"}]}))
    consumer = await _expect(await admin.post(base + "/consumers", headers=auth, json={"name": "Ada's app", "plan_id": plan["id"]}))
    key = await _expect(await admin.post(f"{base}/consumers/{consumer['id']}/keys", headers=auth, json={"name": "laptop"}))
    return tenant["id"], key["key"]


async def test_the_portal_in_a_browser(aiproxy_browser: Any, aiproxy_mock_upstream: str, tmp_path: Path) -> None:
    with _live(tmp_path) as live:
        port = urlsplit(live.proxy_url).port
        portal = f"http://acme.localhost:{port}/-/portal"
        async with httpx.AsyncClient(base_url=live.admin_url) as admin:
            _, key = await _publish(admin, aiproxy_mock_upstream)

        page = await aiproxy_browser.new_page(viewport={"width": 1000, "height": 900})
        await page.goto(portal)
        assert await page.title() == "Acme AI: developer portal"
        await page.wait_for_selector("text=Pay as you go")  # the public plans section, fetched without a key
        assert "One cent a request" in await page.text_content("#public-sections")

        # The try-it console: a real request through the proxy, billed, answered by the mock upstream.
        await page.fill("#try-key", key)
        await page.fill("#try-prompt", "Hello from the portal")
        await page.click("#try-form button[type=submit]")
        # Functions, not expression strings: Playwright evals a string, which the page's CSP refuses.
        await page.wait_for_function("() => document.getElementById('try-answer').textContent.includes('Hello from the portal')")
        assert "You said: Hello from the portal" in await page.text_content("#try-answer")

        # The billing worker writes the ledger in the background; the portal shows what the API reports.
        async with httpx.AsyncClient(base_url=live.proxy_url, headers={"Host": f"acme.localhost:{port}", "Authorization": f"Bearer {key}"}) as api:
            for _ in range(200):
                reported = (await api.get("/-/portal/api/billing/usage")).json()
                if reported["requests"] == 1:
                    break
                await asyncio.sleep(0.05)
            assert reported["requests"] == 1 and reported["cost"] == "0.01", reported

            await page.fill("#sign-in-key", key)
            await page.press("#sign-in-key", "Enter")  # the keyboard alone signs in
            await page.wait_for_selector("#signed-in:not([hidden])")
            assert "Signed in as Ada's app" in await page.text_content("#sign-in-status")
            await page.wait_for_function(f"() => ({USAGE_REQUESTS})() === '1'")
            assert key not in page.url and key not in await page.content()  # in the tab's memory only
            await page.evaluate("window.scrollTo(0, 0)")
            shot = SCREENSHOT if os.environ.get("AIPROXY_SCREENSHOTS") == "1" else tmp_path / "portal.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(shot), full_page=True)

            # Rotation: the new key is shown once, the old one stops working.
            await page.click("#rotate")
            await page.wait_for_selector("#rotate-result code.secret")
            new_key = (await page.text_content("#rotate-result code.secret") or "").strip()
            assert new_key.startswith("aip_") and new_key != key
            assert (await api.get("/-/portal/api/me")).status_code == 401
            assert (await api.get("/-/portal/api/me", headers={"Authorization": f"Bearer {new_key}"})).status_code == 200

        # On a phone: one column, nothing wider than the screen (wide tables scroll in their box).
        phone = await aiproxy_browser.new_page(viewport={"width": 375, "height": 740}, is_mobile=True)
        await phone.goto(portal)
        await phone.wait_for_selector("text=Pay as you go")
        assert await phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
