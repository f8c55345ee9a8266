"""Fixtures for the analytics plugin's tests: an in-process gateway with the plugin, consumers.

Test modules are imported with ``--import-mode=importlib``, so what they share lives here.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Awaitable, Callable
from unittest import mock

import pytest
from starlette.datastructures import MutableHeaders

from aiproxy_analytics import Analytics
from aiproxy_analytics.row import Row, row_of
from aiproxy_analytics.settings import AnalyticsConfig
from aiproxy_core import ProxyRequest, ProxyResponse, RequestContext
from aiproxy_core.models import ApiKey, Rule, Tenant
from aiproxy_sdk import GatewayHarness

#: The harness's client address is 203.0.113.7: trusting its network lets tests name the client
#: with X-Forwarded-For, as a load balancer in front of the gateway would.
BEHIND_A_PROXY = {"server": {"trusted_proxies": ["203.0.113.0/24"]}}


_STARTED = 1000.0


@pytest.fixture
def request_row() -> Callable[..., Row]:
    """``request_row(latency_ms, annotations, consumer=, status=, at=, ip=)``: the row
    ``post_response`` takes of a chat request (a 72-byte body, a 400-byte answer) of tenant ``t1``
    and rule ``r1`` that lasted ``latency_ms`` and was annotated so, finished at ``at``."""

    def row(latency: float, annotations: dict[str, Any], *, consumer: str | None = "c1", status: int = 200, at: float | None = None,
            ip: str = "8.8.8.8") -> Row:
        body = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello!"}]}'
        ctx = RequestContext(
            request_id="req", tenant=Tenant.model_construct(id="t1"), rule=Rule.model_construct(id="r1"),
            api_key=ApiKey.model_construct(id="key", consumer_id=consumer),
            request=ProxyRequest("POST", "/v1/chat/completions", "", MutableHeaders(), body, ip),
            upstream_url="http://upstream", started_at=_STARTED,
        )
        ctx.response = ProxyResponse(status, MutableHeaders(), b"x" * 400)
        ctx.annotations.update({"upstream_ms": 1.0, **annotations})
        # The clock read when the row is taken says exactly ``latency`` has passed: a loaded
        # machine cannot add its own delay to the figures a test compares.
        with mock.patch("time.time", return_value=time.time() if at is None else at), \
                mock.patch("time.perf_counter", return_value=_STARTED + latency / 1000):
            return row_of(ctx, None, None, True)

    return row


@pytest.fixture
def analytics_gateway(aiproxy_gateway_factory: Any) -> Callable[..., Awaitable[GatewayHarness]]:
    async def start(redis: dict[str, Any] | None = None, config: dict[str, Any] = BEHIND_A_PROXY, **options: Any) -> GatewayHarness:
        # Records kept: the tests compare the aggregates with the exact figures of every request.
        plugin = Analytics(config=AnalyticsConfig(**{"flush_seconds": 60, "keep_records": True, **options}))  # flushed by the test
        return await aiproxy_gateway_factory(plugins={"analytics": plugin}, chain=[{"name": "analytics"}], redis=redis, config=config)

    return start


def plugin_of(gateway: GatewayHarness) -> Analytics:
    plugin = gateway.gateway.registry.manager.get_plugin("analytics")
    assert isinstance(plugin, Analytics)
    return plugin


@pytest.fixture
def flush() -> Callable[[GatewayHarness], Awaitable[None]]:
    """Wait for the requests' post_response hooks, then write the process's buckets."""

    async def run(gateway: GatewayHarness) -> None:
        await gateway.settle()
        await plugin_of(gateway).flush_now()

    return run


@pytest.fixture
def consumer() -> Callable[..., Awaitable[tuple[str, str]]]:
    """``await consumer(gateway, name)``: a new consumer of the gateway's tenant and a key of it."""

    async def make(gateway: GatewayHarness, name: str = "Alice") -> tuple[str, str]:
        base = f"/api/v1/tenants/{gateway.tenant['id']}/consumers"
        made = await gateway.admin.post(base, json={"name": name}, headers=gateway.tenant_auth)
        assert made.status_code == 201, made.text
        key = await gateway.admin.post(f"{base}/{made.json()['id']}/keys", json={}, headers=gateway.tenant_auth)
        assert key.status_code == 201, key.text
        return made.json()["id"], key.json()["key"]

    return make


def exact_quantile(values: list[float], q: float) -> float:
    """The value DDSketch estimates for quantile ``q``: the one at rank floor(q * (n - 1))."""
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


@pytest.fixture
def within_bound() -> Callable[[dict[str, float | None], list[float], float], None]:
    """Assert each reported percentile is within the sketch's relative error of the exact one
    (plus 0.01 ms: the API rounds to hundredths)."""

    def check(reported: dict[str, float | None], values: list[float], accuracy: float) -> None:
        worst = 0.0
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
            exact = exact_quantile(values, q)
            got = reported[name]
            assert got is not None, name
            assert abs(got - exact) <= accuracy * exact + 0.01, f"{name}: reported {got}, exact {exact}, bound {accuracy:.0%}"
            worst = max(worst, abs(got - exact) / exact if exact else 0.0)
        # Shown with -s (-rP): what the bound left unused.
        print(f"largest relative error of p50-p99 over {len(values)} values: {worst:.3%} (bound {accuracy:.0%})")

    return check


async def gathered(calls: list[Awaitable[Any]], at_once: int = 40) -> list[Any]:
    semaphore = asyncio.Semaphore(at_once)

    async def one(call: Awaitable[Any]) -> Any:
        async with semaphore:
            return await call

    return await asyncio.gather(*(one(call) for call in calls))


@pytest.fixture
def gather() -> Callable[..., Awaitable[list[Any]]]:
    return gathered
