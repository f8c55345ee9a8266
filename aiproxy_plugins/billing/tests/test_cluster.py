"""Billing through a gateway on a real 3-master Redis Cluster: quota, metering, the ledger's
aggregates, a usage report and an invoice, all on the state API (no key of billing's own)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator

import pytest

from aiproxy_billing import Billing
from aiproxy_sdk.redis_space import new_prefix


@pytest.fixture
def cluster_section(aiproxy_redis_cluster: Any) -> Iterator[dict[str, Any]]:
    prefix = new_prefix("aiproxy-billing-cluster")
    node = aiproxy_redis_cluster.startup_node
    yield {"host": node.host, "port": node.port, "cluster": True, "prefix": prefix}
    aiproxy_redis_cluster.drop_prefix(prefix)


async def test_billing_meters_reports_and_invoices_on_a_cluster(
    cluster_section: dict[str, Any], aiproxy_gateway_factory: Any, consumer: Any, plugin_of: Any, wait_for: Any
) -> None:
    gw = await aiproxy_gateway_factory(plugins={"billing": Billing()}, chain=[{"name": "billing"}], redis=cluster_section)
    tenant = gw.tenant["id"]
    base = f"/api/v1/tenants/{tenant}"
    plan = await gw.admin.post(f"{base}/plans", headers=gw.tenant_auth, json={"name": "Calls", "type": "pay_per_call", "price_per_request": "0.015"})
    assert plan.status_code == 201, plan.text
    free = await gw.admin.post(f"{base}/plans", headers=gw.tenant_auth, json={"name": "Free", "type": "free", "quota": 2, "period": "day"})
    paying, paying_key = await consumer(gw, plan.json()["id"], name="Paying")
    _, free_key = await consumer(gw, free.json()["id"], name="Free")

    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(5):
        assert (await gw.proxy_client(paying_key).post("/v1/chat/completions", json=body)).status_code == 200
    statuses = [(await gw.proxy_client(free_key).post("/v1/chat/completions", json=body)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # the free plan's quota, counted on the cluster

    backend = plugin_of(gw).backend()

    async def billed() -> bool:
        return await backend.ledger.count(tenant) == 7 and (await backend.queue.backlog())["events_waiting"] == 0

    await wait_for(billed, 15)
    today = datetime.now(timezone.utc).date()
    usage = await gw.admin.get(f"{base}/consumers/{paying}/usage", headers=gw.tenant_auth,
                               params={"from": today.replace(day=1).isoformat(), "to": today.isoformat()})
    assert usage.status_code == 200, usage.text
    assert (usage.json()["requests"], usage.json()["cost_exact"]) == (5, "0.075")
    invoice = await gw.admin.get(f"{base}/consumers/{paying}/invoices/{today.strftime('%Y-%m')}", headers=gw.tenant_auth)
    assert invoice.status_code == 200, invoice.text
    assert [(line["quantity"], line["amount"]) for line in invoice.json()["lines"]] == [(5, "0.075")]
