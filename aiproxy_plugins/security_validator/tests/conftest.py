"""Fixtures for security_validator's tests: a gateway with the plugin in its chain, and signing."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, Awaitable, Callable

import pytest

from aiproxy_sdk import GatewayHarness
from aiproxy_security_validator import plugin

SECRET = "test-secret-0123456789abcdef"

MakeGateway = Callable[..., Awaitable[GatewayHarness]]
Sign = Callable[..., dict[str, str]]


@pytest.fixture
def make_gateway(aiproxy_gateway_factory: Callable[..., Awaitable[GatewayHarness]]) -> MakeGateway:
    """``await make_gateway(settings)``: a gateway whose rule runs security_validator with ``settings``."""

    async def make(settings: dict[str, Any], **options: Any) -> GatewayHarness:
        chain = [{"name": "security_validator", "priority": 1, "settings": settings}]
        return await aiproxy_gateway_factory(plugins={"security_validator": plugin}, chain=chain, **options)

    return make


@pytest.fixture
def hmac_secret() -> str:
    return SECRET


@pytest.fixture
def sign(hmac_secret: str) -> Sign:
    """Headers for a signed request, computed here independently of the plugin's own code."""

    def make_headers(
        method: str, path: str, body: bytes, *, secret: str | None = None, timestamp: int | None = None, algorithm: str = "sha256"
    ) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        message = f"{stamp}.{method}.{path}.".encode() + body
        signature = hmac.new((secret or hmac_secret).encode(), message, getattr(hashlib, algorithm)).hexdigest()
        return {"X-Timestamp": stamp, "X-Signature": signature}

    return make_headers


@pytest.fixture
def redis_section(aiproxy_redis_prefix: str) -> dict[str, Any]:
    """A Redis section with the SDK's fresh prefix: skipped without Redis (failed under CI),
    emptied after the test and checked for leftovers at the session's end."""
    return {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix}
