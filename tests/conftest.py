"""Shared fixtures for the core's tests (the SDK's pytest plugin supplies the gateway harness)."""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, Any] | None]:
    """Run a test on both stores: None (embedded SQLite) or a Redis section with its own prefix."""
    if request.param == "sqlite":
        yield None
        return
    prefix = "aiproxy-test-" + uuid.uuid4().hex[:12]
    yield {"host": "127.0.0.1", "port": 6379, "prefix": prefix}
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
