"""Fixtures for the rate limiter's tests: both backends, gateways with the limiter, a private Redis.

Test modules are imported with ``--import-mode=importlib``, so what they share lives here as
fixtures rather than in an importable helper module.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import httpx
import pytest

from aiproxy_rate_limiter import RateLimiter
from aiproxy_sdk import GatewayHarness
from aiproxy_sdk.private_redis import PrivateRedis



@pytest.fixture
def redis_prefix(aiproxy_redis_prefix: str) -> str:
    """A fresh key prefix on the shared Redis (the SDK empties it afterwards)."""
    return aiproxy_redis_prefix


@pytest.fixture
def backend(aiproxy_backend: dict[str, Any] | None) -> dict[str, Any] | None:
    """None (an embedded gateway: SQLite store, counters in memory) or a Redis section."""
    return aiproxy_backend


LimitedGateway = Callable[..., Awaitable[GatewayHarness]]


@pytest.fixture
def limited_gateway(aiproxy_gateway_factory: Any, backend: dict[str, Any] | None) -> LimitedGateway:
    """``await limited_gateway(settings, **harness_options)``: a gateway whose rule has one limiter entry.

    Each gateway gets its own :class:`RateLimiter`, as several gateways may run in one test.
    """

    async def start(settings: dict[str, Any], *, entry: dict[str, Any] | None = None, **options: Any) -> GatewayHarness:
        chain = [{"name": "rate_limiter", "settings": settings, **(entry or {})}]
        return await aiproxy_gateway_factory(
            plugins={"rate_limiter": RateLimiter()}, chain=chain, redis=options.pop("redis", backend), **options
        )

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
        assert 0 <= reset <= window

    return check


@pytest.fixture
def private_redis(aiproxy_private_redis: PrivateRedis) -> PrivateRedis:
    """A redis-server of the test's own, which it may kill (the SDK's fixture)."""
    return aiproxy_private_redis
