"""The exact cache through a real gateway, embedded (memory) and on Redis."""

from __future__ import annotations

import asyncio
from typing import Any


async def test_a_repeated_request_is_a_hit_that_never_reaches_the_upstream(cached_gateway: Any, upstream: Any) -> None:
    gw = await cached_gateway()
    before = upstream.chat_calls
    first = await gw.chat("What is a monad?")
    assert first.status_code == 200
    assert first.headers["x-cache"] == "MISS"
    second = await gw.chat("What is a monad?")
    assert second.status_code == 200
    assert second.headers["x-cache"] == "HIT"
    assert upstream.chat_calls == before + 1
    got, cached = first.json(), second.json()
    assert cached["choices"][0]["message"] == {"role": "assistant", "content": "You said: What is a monad?"}
    assert (cached["usage"], cached["model"]) == (got["usage"], got["model"])
    assert cached["choices"][0]["finish_reason"] == "stop"


async def test_any_other_parameter_is_a_miss(cached_gateway: Any, upstream: Any) -> None:
    gw = await cached_gateway()
    await gw.chat("Name a colour", temperature=0)
    before = upstream.chat_calls
    for different in ({"temperature": 0.7}, {"temperature": 0, "model": "other-model"}, {"temperature": 0, "max_tokens": 2}):
        assert (await gw.chat("Name a colour", **different)).headers["x-cache"] == "MISS", different
    assert (await gw.chat("Name another colour", temperature=0)).headers["x-cache"] == "MISS"
    assert upstream.chat_calls == before + 4


async def test_the_user_field_does_not_split_the_cache(cached_gateway: Any) -> None:
    gw = await cached_gateway()
    assert (await gw.chat("Shared question", user="alice")).headers["x-cache"] == "MISS"
    assert (await gw.chat("Shared question", user="bob")).headers["x-cache"] == "HIT"


async def test_requests_that_are_not_chat_completions_pass_through_as_misses(cached_gateway: Any) -> None:
    gw = await cached_gateway()
    for _ in range(2):
        models = await gw.harness.proxy.get("/v1/models")
        assert models.status_code == 200
        assert models.headers["x-cache"] == "MISS"


async def test_an_answer_expires_after_its_ttl(cached_gateway: Any, upstream: Any) -> None:
    gw = await cached_gateway({"ttl": 1})
    await gw.chat("Short-lived")
    assert (await gw.chat("Short-lived")).headers["x-cache"] == "HIT"
    await asyncio.sleep(1.2)
    before = upstream.chat_calls
    assert (await gw.chat("Short-lived")).headers["x-cache"] == "MISS"
    assert upstream.chat_calls == before + 1


async def test_no_cache_neither_reads_nor_writes(cached_gateway: Any, upstream: Any) -> None:
    gw = await cached_gateway()
    await gw.chat("Cached already")
    before = upstream.chat_calls
    fresh = await gw.chat("Cached already", headers={"Cache-Control": "no-cache"})
    assert fresh.headers["x-cache"] == "MISS"
    assert upstream.chat_calls == before + 1
    assert (await gw.chat("Never stored", headers={"Cache-Control": "no-cache"})).headers["x-cache"] == "MISS"
    assert (await gw.chat("Never stored")).headers["x-cache"] == "MISS"


async def test_no_store_reads_but_never_writes(cached_gateway: Any) -> None:
    gw = await cached_gateway()
    assert (await gw.chat("Private", headers={"Cache-Control": "no-store"})).headers["x-cache"] == "MISS"
    assert (await gw.chat("Private")).headers["x-cache"] == "MISS"
    assert (await gw.chat("Private", headers={"Cache-Control": "max-age=0, No-Store"})).headers["x-cache"] == "HIT"


async def test_errors_are_never_cached(cached_gateway: Any, upstream: Any) -> None:
    gw = await cached_gateway()
    failed = await gw.chat("Flaky", headers={"X-Mock-Status": "500"})
    assert failed.status_code == 500
    assert failed.headers["x-cache"] == "MISS"
    before = upstream.chat_calls
    retried = await gw.chat("Flaky")
    assert (retried.status_code, retried.headers["x-cache"]) == (200, "MISS")
    assert upstream.chat_calls == before + 1


async def test_one_tenant_never_sees_another_tenants_answers(cached_gateway: Any, upstream: Any) -> None:
    gw = await cached_gateway()
    other = await gw.second_tenant()
    assert (await gw.chat("Tenant secret")).headers["x-cache"] == "MISS"
    before = upstream.chat_calls
    theirs = await other.chat("Tenant secret")
    assert (theirs.status_code, theirs.headers["x-cache"]) == (200, "MISS")
    assert upstream.chat_calls == before + 1
    assert (await other.chat("Tenant secret")).headers["x-cache"] == "HIT"


async def test_deleting_a_tenant_drops_its_cached_answers_at_once(cached_gateway: Any) -> None:
    gw = await cached_gateway()
    other = await gw.second_tenant()
    assert (await gw.chat("What is a monad?")).headers["x-cache"] == "MISS"
    assert (await other.client.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})).status_code == 200
    await gw.cache.idle()
    store, tenant = gw.cache.store, gw.harness.tenant["id"]
    assert store is not None and await store.count(tenant) == 1
    other_tenant = (await gw.harness.admin.get("/api/v1/tenants")).json()["data"]
    others = [t["id"] for t in other_tenant if t["id"] != tenant]
    assert (await gw.harness.admin.delete(f"/api/v1/tenants/{tenant}")).status_code == 204
    assert await store.count(tenant) == 0
    assert [await store.count(t) for t in others] == [1]  # the other tenant keeps its answer
