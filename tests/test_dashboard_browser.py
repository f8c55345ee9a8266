"""The dashboard in a real browser (headless Chromium) against a whole gateway on real uvicorn
(``LiveGateway``) with ``server.admin_token`` set and the billing and analytics plugins: what
the page shows is what the Admin API answers, what it changes it changes through the API, the
API's refusals are shown in its words, a tenant key sees one tenant, and no request leaves
loopback (the ``aiproxy_browser`` fixture fails the test otherwise).

With ``AIPROXY_UPDATE_SCREENSHOTS=1`` it writes docs/screenshots/dashboard.png and
dashboard-analytics.png (else into the test's temporary folder, so a test run changes no tracked file).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from aiproxy_core import GatewayConfig, PluginRegistry
from aiproxy_sdk import LiveGateway

billing = pytest.importorskip("aiproxy_billing.plugin")
analytics = pytest.importorskip("aiproxy_analytics.plugin")
playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

ADMIN_TOKEN = "dashboard-browser-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
CALLS = {"Alice": 5, "Bob": 3}
#: The elements that stick out of the window on the right (what makes a phone scroll sideways).
WIDER_THAN_THE_SCREEN = """[...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8)
  .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"""


def live_gateway(tmp_path: Path, admin_token: str | None, registry: PluginRegistry) -> LiveGateway:
    config = GatewayConfig.model_validate({
        "server": {"base_domain": "localhost", "admin_token": admin_token},
        "storage": {"path": str(tmp_path / "aiproxy.db")},
        "upstream": {"allowed_networks": ["127.0.0.1/32"]},  # the mock upstream
    })
    return LiveGateway(config, registry)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveGateway]:
    registry = PluginRegistry()
    registry.register(billing.Billing(), "billing")
    registry.register(analytics.Analytics(), "analytics")
    with live_gateway(tmp_path, ADMIN_TOKEN, registry) as gateway:
        yield gateway


@dataclass
class World:
    acme: dict[str, Any]
    other: dict[str, Any]


async def _made(answer: Any) -> Any:
    response = await answer
    assert response.status_code == 201, response.text
    return response.json()


async def seed(live: LiveGateway, upstream: str) -> World:
    """Two tenants; Acme with a plan, a /v1 rule through billing (analytics on every rule), Alice
    and Bob on the plan calling it; Other with Mallory."""
    async with httpx.AsyncClient(base_url=live.admin_url, headers=ADMIN, timeout=30) as admin:
        acme = await _made(admin.post("/api/v1/tenants", json={
            "name": "Acme AI", "subdomain": "acme", "required_plugins": {"analytics": {"name": "analytics"}}}))
        other = await _made(admin.post("/api/v1/tenants", json={"name": "Other Co", "subdomain": "other"}))
        t = f"/api/v1/tenants/{acme['id']}"
        plan = await _made(admin.post(t + "/plans", json={"name": "Calls", "type": "pay_per_call", "price_per_request": "0.015"}))
        await _made(admin.post(t + "/rules", json={"path": "/v1", "target": upstream, "plugin_chain": [{"name": "billing"}]}))
        keys = {}
        for name in CALLS:
            consumer = await _made(admin.post(t + "/consumers", json={"name": name, "plan_id": plan["id"]}))
            keys[name] = (await _made(admin.post(f"{t}/consumers/{consumer['id']}/keys", json={})))["key"]
        await _made(admin.post(f"/api/v1/tenants/{other['id']}/consumers", json={"name": "Mallory"}))
    async with httpx.AsyncClient(base_url=live.proxy_url, timeout=30) as proxy:
        for name, calls in CALLS.items():
            for i in range(calls):
                answer = await proxy.post(
                    "/v1/chat/completions",
                    headers={"Host": "acme.localhost", "Authorization": f"Bearer {keys[name]}", "X-Mock-Latency-Ms": str(5 + 20 * i)},
                    json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]},
                )
                assert answer.status_code == 200, answer.text
    await _counted(live, acme["id"], sum(CALLS.values()))
    return World(acme, other)


async def _counted(live: LiveGateway, tenant_id: str, calls: int) -> None:
    """Until analytics (flushed every second) and billing's ledger worker have every call."""
    deadline = time.monotonic() + 30
    while True:
        analytics_requests, billed = await api_figures(live, tenant_id)
        if analytics_requests == billed == calls:
            return
        assert time.monotonic() < deadline, f"analytics {analytics_requests}, billed {billed} of {calls} calls"
        await asyncio.sleep(0.3)


async def api_figures(live: LiveGateway, tenant_id: str) -> tuple[int, int]:
    """The Admin API's own answers: requests in the last 24 h (analytics), billed this month (billing)."""
    t = f"/api/v1/tenants/{tenant_id}"
    today = datetime.now(timezone.utc).date()
    async with httpx.AsyncClient(base_url=live.admin_url, headers=ADMIN, timeout=30) as admin:
        groups = (await admin.get(t + "/analytics", params={"interval": "hour"})).json()["groups"]
        consumers = (await admin.get(t + "/consumers")).json()["data"]
        billed = 0
        for consumer in consumers:
            usage = await admin.get(f"{t}/consumers/{consumer['id']}/usage",
                                    params={"from": today.replace(day=1).isoformat(), "to": today.isoformat()})
            billed += usage.json()["requests"]
    return (groups[0]["requests"] if groups else 0), billed


async def admin_get(live: LiveGateway, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient(base_url=live.admin_url, headers=ADMIN, timeout=30) as admin:
        answer = await admin.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()


#: Form controls no label names (a screen reader would read them as "edit text").
UNLABELLED = """[...document.querySelectorAll('input, select, textarea')]
  .filter((e) => !e.labels.length && !e.getAttribute('aria-label')).map((e) => e.name || e.id)"""


async def new_page(browser: Any) -> tuple[Any, list[str]]:
    """A page, and the script errors and policy violations it reports (a test fails on any)."""
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script: {error}"))
    page.on("console", lambda message: problems.append(message.text)
            if any(word in message.text for word in ("Content Security Policy", "Trusted Type", "TrustedHTML")) else None)
    return page, problems


async def sign_in(page: Any, token: str, tenant_id: str = "") -> None:
    await page.fill("#signin-token", token)
    await page.fill("#signin-tenant", tenant_id)
    await page.click("#main form button[type=submit]")


async def test_the_dashboard_shows_and_changes_what_the_admin_api_does(live, aiproxy_browser, aiproxy_mock_upstream, tmp_path) -> None:  # type: ignore[no-untyped-def]
    screenshots = DOCS_SCREENSHOTS if os.environ.get("AIPROXY_UPDATE_SCREENSHOTS") == "1" else tmp_path
    world = await seed(live, aiproxy_mock_upstream)
    acme = world.acme["id"]
    page, problems = await new_page(aiproxy_browser)
    await page.goto(live.admin_url + "/ui")

    # A tenant key without its tenant id is refused before any call (it would count as a failed sign-in).
    asked = len(aiproxy_browser.requested)
    await sign_in(page, world.acme["api_key"])
    await expect(page.locator("#signin-problem .problem-box")).to_contain_text("give the tenant id too")
    assert [u for u in aiproxy_browser.requested[asked:] if "/api/" in u] == []

    # A wrong token: the API's 401, in its words.
    await sign_in(page, "not-the-admin-token")
    await expect(page.locator("#signin-problem .problem-box")).to_contain_text("401: the admin token is wrong")

    # The admin token: the overview's figures are the API's.
    await sign_in(page, ADMIN_TOKEN)
    await expect(page.locator("#signed-in-as")).to_have_text("Operator")
    await page.select_option("#tenant-picker", acme)
    tenants = (await admin_get(live, "/api/v1/tenants"))["data"]
    consumers = (await admin_get(live, f"/api/v1/tenants/{acme}/consumers"))["data"]
    requests_24h, billed = await api_figures(live, acme)
    await expect(page.locator("[data-figure=tenants]")).to_have_text(str(len(tenants)))
    await expect(page.locator("[data-figure=consumers]")).to_have_text(str(len(consumers)))
    await expect(page.locator("[data-figure=rules]")).to_have_text("1")
    await expect(page.locator("[data-figure=requests-24h]")).to_have_text(str(requests_24h))
    await expect(page.locator("[data-figure=billed-month]")).to_have_text(str(billed))
    await expect(page.locator("[data-figure=plans]")).to_have_text("1")
    await expect(page.locator("[data-figure=billing-waiting]")).to_have_text("0")
    assert (len(tenants), len(consumers), requests_24h, billed) == (2, 2, 8, 8)
    await page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

    # Analytics by consumer: the page's figures are the API's, charts carry a text alternative.
    await page.click("nav >> text=Analytics")
    await page.select_option("select[name=interval]", "minute")
    await page.select_option("select[name=group_by]", "consumer")
    await page.click("#main form.toolbar button[type=submit]")
    by_consumer = await admin_get(live, f"/api/v1/tenants/{acme}/analytics", interval="minute", group_by="consumer")
    await expect(page.locator("[data-figure=analytics-requests]")).to_have_text(str(sum(g["requests"] for g in by_consumer["groups"])))
    rows = page.locator("#analytics-table tbody tr")
    await expect(rows).to_have_count(len(by_consumer["groups"]))
    for group in by_consumer["groups"]:
        row = rows.filter(has_text=group["key"]["consumer"])
        await expect(row.locator("td").first).to_have_text(str(group["requests"]))
    description = await page.locator("#chart-requests-svg desc").text_content()
    assert "Alice" in description and "peak" in description
    assert await page.locator("#chart-latency-svg").get_attribute("role") == "img"
    assert await page.evaluate(UNLABELLED) == []
    await page.screenshot(path=str(screenshots / "dashboard-analytics.png"), full_page=True)

    # Targets' health: the rule's one target, as the API describes it.
    await page.click("nav >> text=health")
    await expect(page.locator("main table tbody tr")).to_have_count(1)
    await expect(page.locator("main table tbody tr")).to_contain_text("closed")

    # A consumer made from the page is in the API; an invalid one shows the API's own refusal.
    await page.click("nav >> text=Consumers")
    await expect(page.locator("main h1")).to_be_focused()  # a new view takes the focus to its heading
    assert await page.evaluate(UNLABELLED) == []
    await page.fill("#new-consumer [name=name]", "Carol")
    await page.click("#new-consumer button[type=submit]")
    await expect(page.locator("#consumers-table")).to_contain_text("Carol")
    names = [c["name"] for c in (await admin_get(live, f"/api/v1/tenants/{acme}/consumers"))["data"]]
    assert sorted(names) == ["Alice", "Bob", "Carol"]
    async with httpx.AsyncClient(base_url=live.admin_url, headers=ADMIN) as admin:
        refusal = (await admin.post(f"/api/v1/tenants/{acme}/consumers", json={"name": "", "plan_id": None, "metadata": {}})).json()["error"]
    await page.fill("#new-consumer [name=name]", "")
    await page.click("#new-consumer button[type=submit]")
    box = page.locator("#new-consumer-problems .problem-box")
    await expect(box).to_contain_text(refusal["message"])
    await expect(box).to_contain_text(refusal["details"][0]["message"])
    assert await page.get_attribute("#new-consumer [name=name]", "aria-invalid") == "true"
    await expect(page.locator("#new-consumer [name=name]")).to_be_focused()
    assert len((await admin_get(live, f"/api/v1/tenants/{acme}/consumers"))["data"]) == 3

    # A key made from the page: shown once, then only its prefix, as the API lists it.
    await page.click("nav >> text=Keys")
    await page.fill("#new-key [name=name]", "made on the page")
    await page.click("#new-key button[type=submit]")
    raw_key = await page.locator(".once-key").text_content()
    assert raw_key.startswith("aip_")
    listed = [k for k in (await admin_get(live, f"/api/v1/tenants/{acme}/keys"))["data"] if k["name"] == "made on the page"]
    assert len(listed) == 1 and raw_key.startswith(listed[0]["prefix"])
    await page.reload()
    await expect(page.locator("#keys-table")).to_contain_text(listed[0]["prefix"])
    assert await page.evaluate(UNLABELLED) == []
    assert raw_key not in await page.content()

    # A tenant key of another tenant: the API's 401.
    await page.click("text=Sign out")
    await sign_in(page, world.acme["api_key"], world.other["id"])
    await expect(page.locator("#signin-problem .problem-box")).to_contain_text("401: the API key is not a live key of this tenant")

    # A tenant key with its tenant: that tenant only, and never an operator call.
    asked_before = len(aiproxy_browser.requested)
    await sign_in(page, world.acme["api_key"], acme)
    await expect(page.locator("#signed-in-as")).to_have_text(f"Tenant {acme}")
    assert await page.locator("#tenant-picker").count() == 0
    assert await page.locator("nav >> text=Tenants").count() == 0
    await expect(page.locator("[data-figure=consumers]")).to_have_text("3")
    assert await page.locator("[data-figure=tenants]").count() == 0
    await page.click("nav >> text=Consumers")
    await expect(page.locator("#consumers-table")).to_contain_text("Carol")
    assert "Mallory" not in await page.locator("#main").text_content()
    # On a phone the page is one column: wide tables scroll inside their box, never the page.
    await page.set_viewport_size({"width": 390, "height": 844})
    for view in ("Consumers", "Rules", "Overview"):
        await page.click(f"nav >> text={view}")
        await expect(page.locator("main h1")).to_have_text(view)
        await expect(page.locator("main .view")).not_to_have_attribute("aria-busy", "true")
        wide = await page.evaluate(WIDER_THAN_THE_SCREEN)
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), wide
    operator_calls = [u for u in aiproxy_browser.requested[asked_before:] if urlsplit(u).path in ("/api/v1/tenants", "/metrics")]
    assert operator_calls == []

    # The token lives in this tab's sessionStorage only: never in the address, never a cookie.
    assert world.acme["api_key"] not in page.url and await page.context.cookies() == []
    stored = await page.evaluate("sessionStorage.getItem('aiproxy.dashboard.session')")
    assert world.acme["api_key"] in stored
    assert problems == []


async def test_without_an_admin_token_the_api_asks_for_the_tenant_key(tmp_path, aiproxy_browser) -> None:  # type: ignore[no-untyped-def]
    """No server.admin_token: anyone on loopback manages tenants, and inside a tenant the Admin API
    wants the tenant's key, which the page asks for and then uses."""
    with live_gateway(tmp_path, None, PluginRegistry()) as gateway:
        async with httpx.AsyncClient(base_url=gateway.admin_url) as admin:
            tenant = await _made(admin.post("/api/v1/tenants", json={"name": "Solo", "subdomain": "solo"}))
            await _made(admin.post(f"/api/v1/tenants/{tenant['id']}/consumers", json={"name": "Dora"},
                                   headers={"Authorization": f"Bearer {tenant['api_key']}"}))
        page, problems = await new_page(aiproxy_browser)
        await page.goto(gateway.admin_url + "/ui")
        await sign_in(page, "")
        await expect(page.locator("[data-figure=tenants]")).to_have_text("1")
        await page.click("nav >> text=Consumers")
        await expect(page.locator(".problem-box")).to_contain_text("this call needs the tenant's API key")
        await page.fill("#tenant-key-input", tenant["api_key"])
        await page.click("text=Use this key")
        await expect(page.locator("#consumers-table")).to_contain_text("Dora")
        assert problems == []


async def test_tenants_rules_keys_and_billing_through_the_page(live, aiproxy_browser, aiproxy_mock_upstream) -> None:  # type: ignore[no-untyped-def]
    """The other forms, each checked against the API afterwards: a tenant (refused, then made
    with its key shown once), a rule (refused, then changed as JSON), a key rotated and revoked,
    and billing's usage and invoice as the API reports them."""
    world = await seed(live, aiproxy_mock_upstream)
    acme = world.acme["id"]
    page, problems = await new_page(aiproxy_browser)
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept("0" if dialog.type == "prompt" else None)))
    await page.goto(live.admin_url + "/ui")
    await sign_in(page, ADMIN_TOKEN)
    await page.select_option("#tenant-picker", acme)

    # Tenants: the API's 422 on the field it names, then a tenant and its first key, once.
    await page.click("nav >> text=Tenants")
    await page.fill("#new-tenant [name=name]", "Beta")
    await page.fill("#new-tenant [name=subdomain]", "Not Valid")
    await page.click("#new-tenant button[type=submit]")
    await expect(page.locator("#new-tenant-problems .problem-box")).to_contain_text("422: subdomain: String should match pattern")
    assert await page.get_attribute("#new-tenant [name=subdomain]", "aria-invalid") == "true"
    await page.fill("#new-tenant [name=subdomain]", "beta")
    await page.click("#new-tenant button[type=submit]")
    first_key = await page.locator(".once-key").text_content()
    tenants = {t["subdomain"]: t for t in (await admin_get(live, "/api/v1/tenants"))["data"]}
    assert sorted(tenants) == ["acme", "beta", "other"] and first_key.startswith("aip_")
    keys = (await admin_get(live, f"/api/v1/tenants/{tenants['beta']['id']}/keys"))["data"]
    assert [k["prefix"] for k in keys] == [first_key[:12]]
    await page.select_option("#tenant-picker", acme)

    # Rules: a bad path refused by the API, then the rule changed as JSON (PUT).
    await page.click("nav >> text=Rules")
    await page.fill("#new-rule [name=path]", "v2")
    await page.fill("#new-rule [name=target]", aiproxy_mock_upstream)
    await page.click("#new-rule button[type=submit]")
    await expect(page.locator("#new-rule-problems .problem-box")).to_contain_text("the path must start with '/'")
    assert await page.get_attribute("#new-rule [name=path]", "aria-invalid") == "true"
    await page.click("button[aria-label='Change rule /v1']")
    editor = page.locator("#edit-rule [name=rule]")
    rule = json.loads(await editor.input_value())
    await editor.fill(json.dumps({**rule, "strip_path": True, "methods": ["POST"]}))
    await page.click("#edit-rule button[type=submit]")
    await expect(page.locator("#rules-table")).to_contain_text("POST")
    stored = (await admin_get(live, f"/api/v1/tenants/{acme}/rules"))["data"]
    assert len(stored) == 1 and stored[0]["strip_path"] is True and stored[0]["methods"] == ["POST"]

    # Keys: the tenant's first key rotated (the new one shown once), then revoked.
    await page.click("nav >> text=Keys")
    old = (await admin_get(live, f"/api/v1/tenants/{acme}/keys"))["data"][0]
    await page.click(f"button[aria-label='Rotate key {old['prefix']}']")
    new_key = await page.locator(".once-key").text_content()
    keys = {k["id"]: k for k in (await admin_get(live, f"/api/v1/tenants/{acme}/keys"))["data"]}
    assert keys[old["id"]]["revoked_at"] is not None and keys[old["id"]]["replaced_by"] in keys
    assert new_key.startswith(keys[keys[old["id"]]["replaced_by"]]["prefix"])
    await page.click(f"button[aria-label='Revoke key {new_key[:12]}']")
    await expect(page.locator("#keys-table")).not_to_contain_text("live")
    assert all(k["revoked_at"] for k in (await admin_get(live, f"/api/v1/tenants/{acme}/keys"))["data"])

    # Billing: each consumer's usage and an invoice, as the API answers them.
    await page.click("nav >> text=Usage")
    today = datetime.now(timezone.utc).date()
    for consumer in (await admin_get(live, f"/api/v1/tenants/{acme}/consumers"))["data"]:
        usage = await admin_get(live, f"/api/v1/tenants/{acme}/consumers/{consumer['id']}/usage",
                                **{"from": today.replace(day=1).isoformat(), "to": today.isoformat()})
        row = page.locator("#usage-table tbody tr").filter(has_text=consumer["name"])
        await expect(row.locator("td").nth(1)).to_have_text(str(usage["requests"]))
        await expect(row.locator("td").nth(4)).to_have_text(f"{usage['cost']} {usage['currency']}")
    alice = next(c for c in (await admin_get(live, f"/api/v1/tenants/{acme}/consumers"))["data"] if c["name"] == "Alice")
    invoice = await admin_get(live, f"/api/v1/tenants/{acme}/consumers/{alice['id']}/invoices/{today.isoformat()[:7]}")
    await page.select_option("#invoice-form [name=consumer]", alice["id"])
    await page.click("#invoice-form button[type=submit]")
    await expect(page.locator("#invoice")).to_contain_text(f"total {invoice['total']} {invoice['currency']}")
    await expect(page.locator("#invoice-lines tbody tr")).to_have_count(len(invoice["lines"]))
    await page.click("nav >> text=Plans")
    await expect(page.locator("#plans-table")).to_contain_text("pay_per_call")
    assert problems == []
