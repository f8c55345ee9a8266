"""Two real gateway processes on one Redis, each taking half of 3 consumers x 400 requests:
counts are exact per consumer and percentiles within the sketch's 1 % of the exact ones, the
exact ones read from both processes' kept records (PostgreSQL, ``records.postgresql``); the
``aiproxy analytics`` command prints the same figures from the same config."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

import asyncpg
import httpx
import pytest
import redis

from aiproxy_sdk import GatewayProcess

PER_CONSUMER = 400
#: Client address (trusted proxy 127.0.0.1 passes it on in X-Forwarded-For), its country, the
#: mock's latency per request, streaming.
PROFILES: list[dict[str, Any]] = [
    {"ip": "8.8.8.8", "country": "US", "latency": lambda rng: rng.uniform(1, 15), "stream": False},
    {"ip": "81.2.69.142", "country": "GB", "latency": lambda rng: rng.uniform(20, 40), "stream": True},
    {"ip": "5.61.0.1", "country": "IT", "latency": lambda rng: rng.choice((2, 2, 2, 60)), "stream": False},
]


@pytest.fixture
def two_gateways(aiproxy_redis_prefix: str, aiproxy_postgresql_url: str) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    config = {
        "redis": {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix},
        "records": {"postgresql": aiproxy_postgresql_url},
        "server": {"base_domain": "gw.test", "trusted_proxies": ["127.0.0.1/32"]},
        "plugins": {"analytics": {"flush_seconds": 0.2, "keep_records": True}},
    }
    first, second = GatewayProcess(config), GatewayProcess(config)
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()


async def test_two_processes_merge_exactly(two_gateways, aiproxy_mock_upstream: str, aiproxy_postgresql_url: str, within_bound) -> None:
    first, second = two_gateways
    subdomain = "an" + uuid.uuid4().hex[:10]
    async with httpx.AsyncClient(base_url=first.admin_url, timeout=30) as admin:
        tenant = (await admin.post("/api/v1/tenants", json={"name": subdomain, "subdomain": subdomain})).json()
        auth = {"Authorization": f"Bearer {tenant['api_key']}"}
        base = f"/api/v1/tenants/{tenant['id']}"
        rule = await admin.post(f"{base}/rules", headers=auth, json={"path": "/v1", "target": aiproxy_mock_upstream, "plugin_chain": [{"name": "analytics"}]})
        assert rule.status_code == 201, rule.text
        keys, ids = [], []
        for number in range(len(PROFILES)):
            made = (await admin.post(f"{base}/consumers", headers=auth, json={"name": f"c{number}"})).json()
            ids.append(made["id"])
            keys.append((await admin.post(f"{base}/consumers/{made['id']}/keys", headers=auth, json={})).json()["key"])

    rng = random.Random(7)
    plan = [(n, rng.random() < 0.5, PROFILES[n]["latency"](rng)) for n in range(len(PROFILES)) for _ in range(PER_CONSUMER)]
    rng.shuffle(plan)
    semaphore = asyncio.Semaphore(32)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:

        async def send(n: int, on_first: bool, latency: float) -> int:
            profile = PROFILES[n]
            headers = {"Authorization": f"Bearer {keys[n]}", "Host": f"{subdomain}.gw.test",
                       "X-Forwarded-For": profile["ip"], "X-Mock-Latency-Ms": f"{latency:.1f}"}
            body = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}], "stream": profile["stream"]}
            url = (first if on_first else second).proxy_url + "/v1/chat/completions"
            async with semaphore, client.stream("POST", url, json=body, headers=headers) as response:
                await response.aread()
                return response.status_code

        assert set(await asyncio.gather(*(send(*step) for step in plan))) == {200}

        async with httpx.AsyncClient(base_url=second.admin_url, timeout=30) as admin:
            async def by(group_by: str) -> dict[str, Any]:
                answer = await admin.get(f"{base}/analytics", params={"interval": "minute", "group_by": group_by}, headers=auth)
                assert answer.status_code == 200, answer.text
                return {next(iter(g["key"].values())): g for g in answer.json()["groups"]}

            deadline = asyncio.get_running_loop().time() + 15
            while sum(g["requests"] for g in (await by("consumer")).values()) < 3 * PER_CONSUMER:
                assert asyncio.get_running_loop().time() < deadline, "the processes did not flush in time"
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)  # a last flush would show as a count above 1,200
            groups = await by("consumer")
            countries = await by("country")

    assert {cid: groups[cid]["requests"] for cid in ids} == dict.fromkeys(ids, PER_CONSUMER)
    # Each process wrote its own aggregates (its id ends the key); the reader added them up.
    stored = redis.Redis(decode_responses=True).keys(f"{two_gateways_prefix(first)}:*analytics:v:minute:consumer:*")
    assert len({key.rsplit(":", 1)[1] for key in stored}) == 2
    assert {code: g["requests"] for code, g in countries.items()} == {"US": 400, "GB": 400, "IT": 400}
    records = await _records(aiproxy_postgresql_url, tenant["id"])
    assert len(records) == 3 * PER_CONSUMER
    for cid, profile in zip(ids, PROFILES):
        mine = [r for r in records if r["consumer_id"] == cid]
        within_bound(groups[cid]["latency_ms"], [r["latency_ms"] for r in mine], 0.01)
        if profile["stream"]:
            within_bound(groups[cid]["ttft_ms"], [r["ttft_ms"] for r in mine], 0.01)
            assert groups[cid]["ttft_ms"]["p50"] >= 20 * 0.99
    assert groups[ids[1]]["latency_ms"]["p50"] >= 20 * 0.99

    # The CLI reads the same state with the same config file.
    config_file = next(Path(first.log).parent.glob(f"config-{first.proxy_port}.yaml"))
    printed = subprocess.run(
        [sys.executable, "-m", "aiproxy_core.cli.main", "analytics", "--config", str(config_file), "--tenant", tenant["id"],
         "--interval", "minute", "--group-by", "consumer", "--json"],
        capture_output=True, text=True, timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    cli_groups = {g["key"]["consumer"]: g for g in json.loads(printed.stdout)["groups"]}
    assert {cid: cli_groups[cid]["latency_ms"] for cid in ids} == {cid: groups[cid]["latency_ms"] for cid in ids}
    table = subprocess.run(
        [sys.executable, "-m", "aiproxy_core.cli.main", "analytics", "--config", str(config_file), "--tenant", tenant["id"],
         "--interval", "hour", "--group-by", "country"],
        capture_output=True, text=True, timeout=60,
    )
    assert table.returncode == 0, table.stderr
    assert "country=US" in table.stdout and "p99_ms" in table.stdout


def two_gateways_prefix(gateway: GatewayProcess) -> str:
    return str(gateway.config["redis"]["prefix"])


async def _records(url: str, tenant_id: str) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT data FROM aiproxy_records WHERE plugin = 'analytics' AND tenant_id = $1", tenant_id)
    finally:
        await connection.close()
    return [json.loads(row["data"]) for row in rows]
