"""Fixtures for the rate limiter's tests: both backends, gateways with the limiter, a private Redis.

Test modules are imported with ``--import-mode=importlib``, so what they share lives here as
fixtures rather than in an importable helper module.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

import httpx
import pytest

from aiproxy_rate_limiter import RateLimiter
from aiproxy_rate_limiter.windows import window_seconds
from aiproxy_sdk import GatewayHarness
from aiproxy_sdk.private_redis import PrivateRedis



@pytest.fixture
def redis_prefix(aiproxy_redis_prefix: str) -> str:
    """A fresh key prefix on the shared Redis (the SDK empties it afterwards)."""
    return aiproxy_redis_prefix


@pytest.fixture
def backend(aiproxy_backend: dict[str, Any] | None) -> dict[str, Any] | None:
    """None (an embedded gateway: SQLite store and state file) or a Redis section."""
    return aiproxy_backend


def _window_lengths(settings: dict[str, Any]) -> set[int]:
    specs = [settings, settings.get("burst") or {}, *settings.get("limits", ()), *settings.get("plans", {}).values()]
    found = {window_seconds(spec.get("window", "1s")) for spec in specs if spec.get("limit")}
    return found


async def away_from_a_boundary(settings: dict[str, Any], needed: float = 5.0) -> None:
    """Wait (at most a few seconds) until the next ``needed`` seconds lie inside one aligned
    bucket of every window of ``settings``.

    The default ``sliding`` counter is exact within an aligned bucket ([kW, (k+1)W) from the
    epoch, the store's clock: the same host's here); a test that sends a limit's worth of
    requests across a boundary sees the previous bucket's weighted count instead, which is right
    but not the number it asserts. The margin is capped at a quarter of a short window."""
    for _ in range(3):
        now = time.time()
        waits = [seconds - now % seconds for seconds in _window_lengths(settings) if seconds - now % seconds < min(needed, seconds / 4)]
        if not waits:
            return
        await asyncio.sleep(max(waits) + 0.01)


LimitedGateway = Callable[..., Awaitable[GatewayHarness]]


@pytest.fixture
def limited_gateway(aiproxy_gateway_factory: Any, backend: dict[str, Any] | None) -> LimitedGateway:
    """``await limited_gateway(settings, **harness_options)``: a gateway whose rule has one limiter entry.

    Each gateway gets its own :class:`RateLimiter`, as several gateways may run in one test.
    """

    async def start(settings: dict[str, Any], *, entry: dict[str, Any] | None = None, **options: Any) -> GatewayHarness:
        chain = [{"name": "rate_limiter", "settings": settings, **(entry or {})}]
        gateway = await aiproxy_gateway_factory(
            plugins={"rate_limiter": RateLimiter()}, chain=chain, redis=options.pop("redis", backend), **options
        )
        await away_from_a_boundary(settings)
        return gateway

    return start


LIMIT_HEADERS = ("ratelimit-policy", "ratelimit", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


@pytest.fixture
def assert_limit_headers() -> Callable[..., None]:
    """Check the five rate-limit headers of a response against one policy's expected numbers."""

    def check(response: httpx.Response, *, limit: int, window: int, remaining: int, name: str = "default") -> None:
        missing = [h for h in LIMIT_HEADERS if h not in response.headers]
        assert not missing, f"missing {missing} in {dict(response.headers)}"
        assert f'"{name}";q={limit};w={window}' in response.headers["ratelimit-policy"]
        assert f'"{name}";r={remaining};t=' in response.headers["ratelimit"]
        assert response.headers["x-ratelimit-limit"] == str(limit)
        assert response.headers["x-ratelimit-remaining"] == str(remaining)
        reset = int(response.headers["x-ratelimit-reset"])
        # At most one window for exact and fixed; up to two for the default sliding counter,
        # whose previous bucket keeps weighing through the next one.
        assert 0 <= reset <= 2 * window

    return check


@pytest.fixture
def before_a_boundary() -> Callable[..., Awaitable[None]]:
    """``await before_a_boundary(settings)``: see :func:`away_from_a_boundary`."""
    return away_from_a_boundary


@pytest.fixture
def private_redis(aiproxy_private_redis: PrivateRedis) -> PrivateRedis:
    """A redis-server of the test's own, which it may kill (the SDK's fixture)."""
    return aiproxy_private_redis
