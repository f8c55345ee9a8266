"""When Redis goes away: ``on_error: closed`` refuses with a 503, ``open`` lets requests through.

The gateway gets a redis-server of the test's own, which the test kills and restarts. The
gateway keeps serving from its cached view of tenant, rules and key, so only the limiter needs Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import pytest

from aiproxy_rate_limiter import RateLimiter
from aiproxy_rate_limiter.outage import Outage


async def test_closed_refuses_and_open_admits_while_redis_is_down(
    aiproxy_gateway_factory: Any, private_redis: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {"limit": 100, "window": "1m", "redis_timeout": 0.5}
    gw = await aiproxy_gateway_factory(
        plugins={"rate_limiter": RateLimiter()},
        chain=[{"name": "rate_limiter", "settings": {**settings, "on_error": "closed"}}],
        redis={"host": "127.0.0.1", "port": private_redis.port, "prefix": "rl-down-" + uuid.uuid4().hex[:8]},
    )
    made = await gw.admin.post(
        f"/api/v1/tenants/{gw.tenant['id']}/rules",
        headers=gw.tenant_auth,
        json={
            "path": "/v1/embeddings",
            "target": gw.rule["target"],
            "plugin_chain": [{"name": "rate_limiter", "settings": {**settings, "on_error": "open"}}],
        },
    )
    assert made.status_code == 201, made.text

    async def embed() -> Any:
        return await gw.proxy.post("/v1/embeddings", json={"model": "mock-model", "input": "hi"})

    # While Redis is up both rules count (and the gateway caches tenant, rules and key).
    assert (await gw.chat()).headers["x-ratelimit-remaining"] == "99"
    up = await embed()
    assert up.status_code == 200 and "x-ratelimit-status" not in up.headers

    private_redis.save()  # so a restart finds the tenant again, as a persistent Redis would
    private_redis.kill()
    caplog.set_level(logging.WARNING, logger="aiproxy.rate_limiter")
    started = time.monotonic()
    for _ in range(3):
        refused = await gw.chat()
        assert refused.status_code == 503, refused.text
        error = refused.json()["error"]
        assert error["code"] == "plugin_unavailable"
        assert refused.headers["retry-after"] == "1"
        admitted = await embed()
        assert admitted.status_code == 200, admitted.text
        assert admitted.headers["x-ratelimit-status"] == "unavailable"
    # One bounded wait (redis_timeout) at most; after it, the outage is known and answers are at once.
    assert time.monotonic() - started < 3
    warnings = [r for r in caplog.records if r.name == "aiproxy.rate_limiter" and "cannot reach Redis" in r.getMessage()]
    assert len(warnings) == 1  # one warning for the outage, not one per request

    # Redis is back: after the pause, limits count again, from where they were (both rules have
    # the same limit and no per_endpoint, so they share one counter: two requests so far).
    private_redis.start()
    await asyncio.sleep(Outage.PAUSE_SECONDS)
    back = await gw.chat()
    assert back.status_code == 200, back.text
    assert back.headers["x-ratelimit-remaining"] == "97"
    assert any("reaches Redis again" in r.getMessage() for r in caplog.records)
