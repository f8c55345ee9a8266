"""Prepaid credits shared by two real gateway processes on one Redis: never overdrawn, never below zero."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from decimal import Decimal

import httpx

from aiproxy_core import create_mock_upstream
from aiproxy_sdk import GatewayProcess, ServerThread

REQUESTS = 200
RESERVE = Decimal("0.01")
TOP_UP = Decimal("0.50")  # exactly 50 reservations


async def test_two_processes_admit_what_the_balance_allows(aiproxy_redis_prefix: str) -> None:
    config = {
        "redis": {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix},
        "server": {"base_domain": "gw.test"},
    }
    with ServerThread(create_mock_upstream()) as upstream, GatewayProcess(config) as first, GatewayProcess(config) as second:
        subdomain = "pp" + uuid.uuid4().hex[:10]
        async with httpx.AsyncClient(base_url=first.admin_url, timeout=30) as admin:
            made = await admin.post("/api/v1/tenants", json={"name": f"Tenant {subdomain}", "subdomain": subdomain})
            assert made.status_code == 201, made.text
            tenant = made.json()
            auth = {"Authorization": f"Bearer {tenant['api_key']}"}
            base = f"/api/v1/tenants/{tenant['id']}"
            chain = [{"name": "billing", "settings": {"prepaid": True, "reserve": str(RESERVE)}}]
            rule = await admin.post(base + "/rules", headers=auth, json={"path": "/v1", "target": upstream, "plugin_chain": chain})
            assert rule.status_code == 201, rule.text
            consumer = await admin.post(base + "/consumers", headers=auth, json={"name": "Alice"})
            assert consumer.status_code == 201, consumer.text
            consumer_id = consumer.json()["id"]
            key = await admin.post(f"{base}/consumers/{consumer_id}/keys", headers=auth, json={})
            assert key.status_code == 201, key.text
            credits = f"{base}/consumers/{consumer_id}/credits"
            topped = await admin.post(credits, headers=auth, json={"amount": str(TOP_UP)})
            assert topped.status_code == 200 and Decimal(topped.json()["balance"]) == TOP_UP, topped.text

            headers = {"Authorization": f"Bearer {key.json()['key']}", "Host": f"{subdomain}.gw.test"}
            body = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}
            pool = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
            async with httpx.AsyncClient(timeout=60, limits=pool) as client:
                urls = [first.proxy_url, second.proxy_url]
                responses = await asyncio.gather(
                    *(client.post(f"{urls[i % 2]}/v1/chat/completions", headers=headers, json=body) for i in range(REQUESTS))
                )

            allowed = int(TOP_UP / RESERVE)
            statuses = Counter(r.status_code for r in responses)
            logs = first.log.read_text()[-3000:] + second.log.read_text()[-3000:]
            assert statuses == {200: allowed, 402: REQUESTS - allowed}, (statuses, logs)
            assert all(r.json()["error"]["code"] == "insufficient_credits" for r in responses if r.status_code == 402)
            answered_by = Counter(str(r.url).split("/v1/")[0] for r in responses)
            assert sorted(answered_by.values()) == [REQUESTS // 2, REQUESTS // 2]

            # Settlement runs after each answer: wait for it, then the balance is spent, not negative.
            final = None
            for _ in range(200):
                final = Decimal((await admin.get(credits, headers=auth)).json()["balance"])
                if final == 0:
                    break
                await asyncio.sleep(0.05)
            assert final is not None and final >= 0
            assert final == 0, final
            # The second process reads the same balance.
            async with httpx.AsyncClient(base_url=second.admin_url, timeout=30) as other:
                assert Decimal((await other.get(credits, headers=auth)).json()["balance"]) == 0
