"""The plugin as the gateway loads it: entry point, settings checked on save, Redis outages."""

from __future__ import annotations

from typing import Any

import pytest

from aiproxy_cache import Cache
from aiproxy_cache.redis_store import RedisStore
from aiproxy_sdk import free_port


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


@pytest.mark.parametrize("aiproxy_backend", ["redis"], indirect=True)
async def test_an_unreachable_cache_redis_makes_misses_not_errors(cached_gateway: Any) -> None:
    gw = await cached_gateway()
    gw.cache._store = RedisStore.connect("127.0.0.1", free_port(), None, 0, "dead")
    for _ in range(2):
        answer = await gw.chat("Redis is down")
        assert (answer.status_code, answer.headers["x-cache"]) == (200, "MISS")
