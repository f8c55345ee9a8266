"""A single Redis server's store written by a gateway before the cluster-ready key layout is
moved to the new names at open, once, with nothing lost."""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis

from aiproxy_core.errors import Conflict
from aiproxy_core.store.redis_store import RedisStore

from .test_store import api_key, redis_config, rule, sha, tenant


async def write_old_layout(redis: Redis, prefix: str) -> None:
    """What the previous version stored for tenant acme (a rule, a consumer's key) and tenant beta."""
    p = prefix + ":"
    acme, beta = tenant("acme"), tenant("beta", name="Beta Co")
    key = api_key("acme", "k1", consumer_id="alice")
    await redis.hset(p + "tenants", mapping={"acme": acme.model_dump_json(), "beta": beta.model_dump_json()})
    await redis.hset(p + "tenant_names", mapping={"acme": "acme", "beta co": "beta"})
    await redis.hset(p + "tenant_subdomains", mapping={"acme": "acme", "beta": "beta"})
    await redis.hset(p + "keys", key.hash, key.model_dump_json())
    await redis.hset(p + "tenant_keys:acme", "k1", key.hash)
    await redis.hset(p + "rules:acme", "r1", rule("acme", "r1").model_dump_json())
    await redis.hset(p + "consumers:acme", "alice", '{"id": "alice", "tenant_id": "acme", "name": "Alice", "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}')


async def test_the_old_layout_is_moved_at_open_and_nothing_is_lost(aiproxy_redis_prefix: str) -> None:
    redis_prefix = aiproxy_redis_prefix
    raw = Redis(host="127.0.0.1", port=6379, decode_responses=True)
    await write_old_layout(raw, redis_prefix)
    store = RedisStore(redis_config(redis_prefix))
    await store.open()
    try:
        assert [t.id for t in await store.list_tenants()] == ["acme", "beta"]
        assert await store.find_key(sha("k1")) == api_key("acme", "k1", consumer_id="alice")
        assert await store.get_key("acme", "k1") == api_key("acme", "k1", consumer_id="alice")
        assert await store.get_rule("acme", "r1") == rule("acme", "r1")
        assert [c.id for c in await store.list_consumers("acme")] == ["alice"]
        assert (await store.get_tenant_by_subdomain("beta")).id == "beta"
        with pytest.raises(Conflict):  # the uniqueness indexes moved too
            await store.create_tenant(tenant("other", name="BETA CO", subdomain="other"))
        left = sorted([n async for n in raw.scan_iter(match=redis_prefix + ":*")])
        assert left and all(n.startswith(f"{redis_prefix}:{{{redis_prefix}:store}}:") for n in left), left
    finally:
        await store.close()

    again = RedisStore(redis_config(redis_prefix))  # a second open finds nothing to move
    await again.open()
    try:
        assert [t.id for t in await again.list_tenants()] == ["acme", "beta"]
        assert await again.delete_consumer("acme", "alice")
        assert await again.find_key(sha("k1")) is None
    finally:
        await again.close()
        await raw.aclose()


async def test_old_keys_written_after_the_move_are_reported_not_merged(aiproxy_redis_prefix: str, caplog) -> None:
    redis_prefix = aiproxy_redis_prefix
    store = RedisStore(redis_config(redis_prefix))
    await store.open()
    await store.create_tenant(tenant("acme"))
    await store.close()
    raw = Redis(host="127.0.0.1", port=6379, decode_responses=True)
    await raw.hset(redis_prefix + ":tenants", "late", tenant("late").model_dump_json())  # an old gateway still writing
    try:
        with caplog.at_level(logging.ERROR, logger="aiproxy.store"):
            reopened = RedisStore(redis_config(redis_prefix))
            await reopened.open()
        try:
            assert [t.id for t in await reopened.list_tenants()] == ["acme"]
            assert "a gateway of an older version is still writing the old ones" in caplog.text
            assert await raw.hexists(redis_prefix + ":tenants", "late")  # left for the operator
        finally:
            await reopened.close()
    finally:
        await raw.aclose()
