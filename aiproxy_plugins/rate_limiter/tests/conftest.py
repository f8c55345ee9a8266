"""Fixtures for the rate limiter's tests: both backends, gateways with the limiter, a private Redis.

Test modules are imported with ``--import-mode=importlib``, so what they share lives here as
fixtures rather than in an importable helper module.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import httpx
import pytest
import redis

from aiproxy_rate_limiter import RateLimiter
from aiproxy_sdk import GatewayHarness, free_port

REDIS_SERVER = "/usr/bin/redis-server"


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


@dataclass
class PrivateRedis:
    """A redis-server of the test's own, so the test may kill and restart it.

    It saves only when told (:meth:`save`), into ``directory``, and loads that file on start.
    """

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
            + ["--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def save(self) -> None:
        client = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            client.save()
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port(), tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.kill()
