"""The plugin as the gateway loads it: entry point, settings checked on save, Redis outages,
answers kept across an embedded restart."""

from __future__ import annotations

from typing import Any

import uuid

from aiproxy_cache import Cache


async def test_the_entry_point_serves_from_the_cache_and_forgets_a_deleted_tenant(aiproxy_gateway_factory: Any) -> None:
    gw = await aiproxy_gateway_factory(load_installed_plugins=True, chain=[{"name": "cache"}])
    cache = gw.gateway.registry.manager.get_plugin("cache")
    assert isinstance(cache, Cache)  # the entry point names the class: this gateway's own instance
    assert (await gw.chat("Via the entry point")).headers["x-cache"] == "MISS"
    await cache.idle()
    assert (await gw.chat("Via the entry point")).headers["x-cache"] == "HIT"
    assert cache.store is not None and await cache.store.count(gw.tenant["id"]) == 1
    assert (await gw.admin.delete(f"/api/v1/tenants/{gw.tenant['id']}")).status_code == 204
    assert await cache.store.count(gw.tenant["id"]) == 0  # every hook of the class is registered


async def test_bad_settings_are_refused_when_the_rule_is_saved(cached_gateway: Any) -> None:
    gw = (await cached_gateway()).harness
    body = {"path": "/v2", "target": "http://127.0.0.1:9", "plugin_chain": [{"name": "cache", "settings": {"threshold": 2}}]}
    refused = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/rules", headers=gw.tenant_auth, json=body)
    assert refused.status_code == 422
    assert "cache" in refused.text and "threshold" in refused.text


async def test_a_redis_outage_makes_misses_not_errors(aiproxy_gateway_factory: Any, aiproxy_private_redis: Any) -> None:
    # The cache's state is the gateway's Redis: when it dies, answers come from the upstream.
    redis = {"host": "127.0.0.1", "port": aiproxy_private_redis.port, "prefix": "cache-" + uuid.uuid4().hex[:8]}
    gw = await aiproxy_gateway_factory(plugins={"cache": (cache := Cache())}, chain=[{"name": "cache"}], redis=redis)
    assert (await gw.chat("Redis is up")).headers["x-cache"] == "MISS"
    await cache.idle()
    assert (await gw.chat("Redis is up")).headers["x-cache"] == "HIT"
    aiproxy_private_redis.kill()
    for content in ("Redis is up", "Redis is down", "Redis is down"):
        answer = await gw.chat(content)
        await cache.idle()
        assert (answer.status_code, answer.headers["x-cache"]) == (200, "MISS"), answer.text
        assert answer.json()["choices"][0]["message"]["content"] == f"You said: {content}"
