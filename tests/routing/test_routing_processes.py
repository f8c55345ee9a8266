"""Failover across real processes: two gateway processes on one Redis, two upstream processes,
one SIGKILLed while 2,000 requests run 32 at a time; no client sees an error, the circuit opens
on both gateways and closes again once the target is back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import httpx

from aiproxy_sdk import GatewayProcess, free_ports

BASE_DOMAIN = "gw.test"
REQUESTS = 2000
CONNECTIONS = 32


class MockProcess:
    """``aiproxy mock-upstream`` in its own process, so it can be killed like a crashed origin."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "MockProcess":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiproxy_core.cli.main", "mock-upstream", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/v1/models", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the mock upstream did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _targets_health(gateway: GatewayProcess, tenant: dict, rule: dict) -> list[dict]:
    response = httpx.get(
        f"{gateway.admin_url}/api/v1/tenants/{tenant['id']}/rules/{rule['id']}/targets",
        headers={"Authorization": f"Bearer {tenant['api_key']}"},
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _run(urls: list[str], key: str, host: str, count: int, on_progress) -> tuple[Counter[int], Counter[str]]:
    statuses: Counter[int] = Counter()
    served: Counter[str] = Counter()
    done = 0
    next_index = 0
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(worker_index: int) -> None:
            nonlocal done, next_index
            while next_index < count:
                index = next_index
                next_index += 1
                url = urls[index % len(urls)]
                try:
                    response = await client.post(
                        url + "/v1/chat/completions",
                        headers={"Host": host, "Authorization": f"Bearer {key}"},
                        json={"model": "mock-model", "messages": [{"role": "user", "content": f"request {index}"}]},
                    )
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1  # type: ignore[index]
                else:
                    statuses[response.status_code] += 1
                    served[response.headers.get("x-aiproxy-target", "?")] += 1
                done += 1
                on_progress(done)

        await asyncio.gather(*(worker(i) for i in range(CONNECTIONS)))
    return statuses, served


def test_failover_when_a_target_is_killed_across_two_gateway_processes(aiproxy_redis_prefix, tmp_path):
    first_port, second_port = free_ports(2)  # picked together: two free_port() calls may return one port
    first_upstream = MockProcess(first_port).start()
    second_upstream = MockProcess(second_port).start()
    config = {
        "server": {"base_domain": BASE_DOMAIN},
        "redis": {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix},
        "logging": {"level": "warning"},
    }
    try:
        with GatewayProcess(config, workdir=tmp_path) as one, GatewayProcess(config, workdir=tmp_path) as two:
            tenant = httpx.post(one.admin_url + "/api/v1/tenants", json={"name": "Acme", "subdomain": "acme"}).json()
            rule = httpx.post(
                f"{one.admin_url}/api/v1/tenants/{tenant['id']}/rules",
                headers={"Authorization": f"Bearer {tenant['api_key']}"},
                json={
                    "path": "/v1",
                    "targets": [{"url": first_upstream.url, "name": "a"}, {"url": second_upstream.url, "name": "b"}],
                    "routing": {"strategy": "fallback", "circuit_breaker": {"failures": 3, "window": 10, "cooldown": 2}},
                },
            )
            assert rule.status_code == 201, rule.text
            rule_json = rule.json()
            host = f"acme.{BASE_DOMAIN}"

            killed_at = REQUESTS // 4

            def on_progress(done: int) -> None:
                if done == killed_at:
                    first_upstream.kill()

            statuses, served = asyncio.run(_run([one.proxy_url, two.proxy_url], tenant["api_key"], host, REQUESTS, on_progress))
            assert statuses == Counter({200: REQUESTS}), f"client errors while a target died: {statuses}"
            assert served["a"] >= killed_at - CONNECTIONS and served["b"] > 0, served

            # Open on both processes: each now sends straight to b, in one attempt, without trying
            # a (but for at most one probe per cooldown, which finds a still dead).
            for gateway in (one, two):
                attempts = []
                for _ in range(6):
                    response = httpx.post(
                        gateway.proxy_url + "/v1/chat/completions",
                        headers={"Host": host, "Authorization": f"Bearer {tenant['api_key']}"},
                        json={"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]},
                    )
                    assert (response.status_code, response.headers["x-aiproxy-target"]) == (200, "b")
                    attempts.append(response.headers["x-aiproxy-attempts"])
                assert attempts.count("1") >= 5, f"a was tried while its circuit was open: {attempts}"
            assert _targets_health(one, tenant, rule_json)[0]["circuit"] in ("open", "half_open")

            # a comes back on its port; after the cooldown a probe closes the circuit, and both
            # processes send to a again.
            first_upstream.process = None
            first_upstream.start()
            for gateway in (one, two):
                deadline = time.monotonic() + 10
                target = None
                while time.monotonic() < deadline:
                    response = httpx.post(
                        gateway.proxy_url + "/v1/chat/completions",
                        headers={"Host": host, "Authorization": f"Bearer {tenant['api_key']}"},
                        json={"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]},
                    )
                    assert response.status_code == 200
                    target = response.headers["x-aiproxy-target"]
                    if target == "a":
                        break
                    time.sleep(0.1)
                assert target == "a", "the circuit did not close again after the target returned"
            assert _targets_health(two, tenant, rule_json)[0]["circuit"] == "closed"
    finally:
        first_upstream.kill()
        second_upstream.kill()
