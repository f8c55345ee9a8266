"""Usage and invoices across tenants on ONE gateway and store (both backends).

Both tenants bill through the same plugin instance, ledger and worker; one tenant's reports must
never count the other's requests, and its key must not read the other's reports.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import httpx


def today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


async def test_usage_and_invoices_never_cross_tenants(billing_gateway: Any, consumer: Any, plugin_of: Any, wait_for: Any) -> None:
    gw = await billing_gateway()
    alpha = gw.tenant["id"]
    made = await gw.admin.post("/api/v1/tenants", json={"name": "Beta " + alpha, "subdomain": "b" + gw.tenant["subdomain"]})
    assert made.status_code == 201, made.text
    beta = made.json()
    beta_auth = {"Authorization": f"Bearer {beta['api_key']}"}
    rule = await gw.admin.post(
        f"/api/v1/tenants/{beta['id']}/rules", headers=beta_auth,
        json={"path": "/v1", "target": gw.rule["target"], "plugin_chain": [{"name": "billing"}]},
    )
    assert rule.status_code == 201, rule.text

    alice, alice_key = await consumer(gw, None, "Alice")
    beta_view = type("BetaView", (), {"tenant": beta, "admin": gw.admin, "tenant_auth": beta_auth})()
    bob, bob_key = await consumer(beta_view, None, "Bob")

    async def chats(client: httpx.AsyncClient, n: int) -> None:
        for i in range(n):
            sent = await client.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": f"hi {i}"}]})
            assert sent.status_code == 200, sent.text

    await chats(gw.proxy_client(alice_key), 2)
    beta_client = gw.proxy_client(bob_key)
    beta_client.base_url = f"http://{beta['subdomain']}.{gw.gateway.config.server.base_domain}"
    await chats(beta_client, 3)
    ledger = plugin_of(gw).backend().ledger

    async def billed() -> bool:
        return await ledger.count(alpha) == 2 and await ledger.count(beta["id"]) == 3

    await wait_for(billed)

    def usage_url(tenant_id: str, consumer_id: str) -> str:
        return f"/api/v1/tenants/{tenant_id}/consumers/{consumer_id}/usage"

    window = {"from": today(), "to": today()}
    own = await gw.admin.get(usage_url(alpha, alice), params=window, headers=gw.tenant_auth)
    assert own.status_code == 200 and own.json()["requests"] == 2, own.text
    theirs = await gw.admin.get(usage_url(beta["id"], bob), params=window, headers=beta_auth)
    assert theirs.status_code == 200 and theirs.json()["requests"] == 3, theirs.text

    # Beta's key cannot read Alpha's reports through Alpha's URLs ...
    period = today()[:7]
    for url in (usage_url(alpha, alice), f"/api/v1/tenants/{alpha}/consumers/{alice}/invoices/{period}"):
        peek = await gw.admin.get(url, params=window if url.endswith("usage") else None, headers=beta_auth)
        assert peek.status_code in (401, 403), (url, peek.status_code, peek.text)
    # ... nor find Alpha's consumer under its own tenant: not found, as any unknown id.
    under_beta = await gw.admin.get(usage_url(beta["id"], alice), params=window, headers=beta_auth)
    assert under_beta.status_code == 404 and under_beta.json()["error"]["code"] == "consumer_not_found", under_beta.text
    invoice_under_beta = await gw.admin.get(f"/api/v1/tenants/{beta['id']}/consumers/{alice}/invoices/{period}", headers=beta_auth)
    assert invoice_under_beta.status_code == 404, invoice_under_beta.text
    # Each tenant's invoice counts its own requests only.
    alpha_invoice = (await gw.admin.get(f"/api/v1/tenants/{alpha}/consumers/{alice}/invoices/{period}", headers=gw.tenant_auth)).json()
    beta_invoice = (await gw.admin.get(f"/api/v1/tenants/{beta['id']}/consumers/{bob}/invoices/{period}", headers=beta_auth)).json()
    assert alpha_invoice["requests"] == 2, alpha_invoice
    assert beta_invoice["requests"] == 3, beta_invoice
