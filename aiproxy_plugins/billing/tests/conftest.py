"""Fixtures for the billing plugin's tests: both backends, gateways with billing, a consumer key.

Test modules are imported with ``--import-mode=importlib``, so what they share lives here as
fixtures rather than in an importable helper module.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

from aiproxy_billing import Billing
from aiproxy_core.state import PluginState, StateService

from aiproxy_sdk import GatewayHarness
from aiproxy_sdk.private_redis import PrivateRedis



@pytest.fixture
def backend(aiproxy_backend: dict[str, Any] | None) -> dict[str, Any] | None:
    """None (embedded: SQLite store, outbox and ledger) or a Redis section with a fresh prefix."""
    return aiproxy_backend


BillingGateway = Callable[..., Awaitable[GatewayHarness]]


@pytest.fixture
def billing_gateway(aiproxy_gateway_factory: Any, backend: dict[str, Any] | None) -> BillingGateway:
    """``await billing_gateway(settings, run_worker=True)``: a gateway whose rule has a billing entry.

    ``run_worker=None`` leaves it to the gateway config (``config={"plugins": {"billing": ...}}``).
    """

    async def start(
        settings: dict[str, Any] | None = None, *, run_worker: bool | None = True, plugin_options: dict[str, Any] | None = None, **options: Any
    ) -> GatewayHarness:
        chain = [{"name": "billing", "settings": settings or {}}]
        plugin = Billing(run_worker=run_worker, **(plugin_options or {}))
        gateway = await aiproxy_gateway_factory(
            plugins={"billing": plugin}, chain=chain, redis=options.pop("redis", backend), **options
        )
        return gateway

    return start


def billing_of(gateway: GatewayHarness) -> Billing:
    """The Billing object registered in a harness's gateway."""
    plugin = gateway.gateway.registry.manager.get_plugin("billing")
    assert isinstance(plugin, Billing)
    return plugin


@pytest.fixture
def plugin_of() -> Callable[[GatewayHarness], Billing]:
    return billing_of


@pytest.fixture
def consumer() -> Callable[..., Awaitable[tuple[str, str]]]:
    """``await consumer(gateway, plan_id=None)``: a new consumer (through the core's Admin API) and a key of it."""

    async def make(gateway: GatewayHarness, plan_id: str | None = None, name: str = "Alice") -> tuple[str, str]:
        base = f"/api/v1/tenants/{gateway.tenant['id']}/consumers"
        body: dict[str, Any] = {"name": name} | ({"plan_id": plan_id} if plan_id else {})
        made = await gateway.admin.post(base, json=body, headers=gateway.tenant_auth)
        assert made.status_code == 201, made.text
        consumer_id = made.json()["id"]
        key = await gateway.admin.post(f"{base}/{consumer_id}/keys", json={}, headers=gateway.tenant_auth)
        assert key.status_code == 201, key.text
        return consumer_id, key.json()["key"]

    return make


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[None]]:
    """``await wait_for(predicate, timeout)``: poll an async predicate until it holds."""

    async def wait(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the condition did not hold in time")
            await asyncio.sleep(0.02)

    return wait


@pytest.fixture
async def billing_state(backend: dict[str, Any] | None, tmp_path: Path) -> AsyncIterator[PluginState]:
    """Billing's state-API namespace on the test's backend, without a gateway (the SQLite state
    file in the test's tmp dir, or the shared Redis under the backend's fresh prefix)."""
    from redis.asyncio import Redis

    redis = Redis(host=backend["host"], port=backend["port"], decode_responses=True) if backend is not None else None
    service = StateService(tmp_path, redis=redis, prefix=backend["prefix"] if backend is not None else "aiproxy")
    service.open()
    await service.start()
    try:
        yield service.for_plugin("billing")
    finally:
        await service.stop()
        service.close()
        if redis is not None:
            await redis.aclose()


@pytest.fixture
def durable_redis(aiproxy_durable_redis: PrivateRedis) -> PrivateRedis:
    """A redis-server of the test's own with AOF ``appendfsync always`` (the SDK's fixture)."""
    return aiproxy_durable_redis
