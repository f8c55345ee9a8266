"""The semantic index as the state API keeps it, on SQLite and on Redis: ranking, cap, expiry,
tenant and scope isolation, and concurrent writers that lose no entry."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import numpy as np
import pytest

from aiproxy_cache import vector_index
from aiproxy_cache.vector_index import VectorIndex


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def unit(*components: float) -> np.ndarray:
    vector = np.array(components, dtype=np.float32)
    return vector / np.linalg.norm(vector)


async def store_of(cached_gateway: Any) -> Any:
    gw = await cached_gateway()
    return gw.cache.store, gw.harness.tenant["id"]


def test_the_index_value_round_trips_bytes() -> None:
    index = VectorIndex.empty(3).with_entry(key("x"), unit(1, 0, 0), 10.0).with_entry(key("y"), unit(0, 1, 0), 20.0)
    back = VectorIndex.decode(index.encode())
    assert [k.decode() for k in back.keys] == [key("x"), key("y")]
    assert back.expires.tolist() == [10.0, 20.0]
    assert np.array_equal(back.vectors, index.vectors)
    assert len(index.encode()) == 8 + 2 * (64 + 8 + 3 * 4)
    assert len(back.with_entry(key("x"), unit(0, 0, 1), 30.0)) == 2  # a key is indexed once


async def test_the_index_ranks_caps_and_isolates(cached_gateway: Any) -> None:
    store, tenant = await store_of(cached_gateway)
    eye = np.eye(3, dtype=np.float32)
    assert await store.add_vector(tenant, "s", key("x"), eye[0], 60, 2)
    assert await store.add_vector(tenant, "s", key("y"), eye[1], 60, 2)
    assert not await store.add_vector(tenant, "s", key("z"), eye[2], 60, 2)  # over the cap
    assert await store.add_vector(tenant, "s", key("x"), eye[0], 60, 2)  # a re-index is no new entry
    query = unit(0.8, 0.6, 0.0)
    assert [k for k, _ in await store.nearest(tenant, "s", query, 0.5, 5)] == [key("x"), key("y")]
    assert [k for k, _ in await store.nearest(tenant, "s", query, 0.5, 1)] == [key("x")]
    assert await store.nearest(tenant, "s", query, 0.9, 5) == []
    assert await store.nearest(tenant, "other-scope", query, 0.0, 5) == []
    assert await store.nearest("other-tenant", "s", query, 0.0, 5) == []
    await store.forget_vector(tenant, "s", key("x"))
    assert [k for k, _ in await store.nearest(tenant, "s", query, 0.5, 5)] == [key("y")]


async def test_concurrent_writers_lose_no_entry(cached_gateway: Any) -> None:
    # 40 misses of one scope written at once (on Redis, as 40 gateway processes would): each
    # write is a compare-and-set of the scope's version, a loser reads again and retries.
    store, tenant = await store_of(cached_gateway)
    rng = np.random.default_rng(7)
    vectors = {key(str(i)): unit(*rng.normal(size=8)) for i in range(40)}
    written = await asyncio.gather(*(store.add_vector(tenant, "s", k, v, 60, 2000) for k, v in vectors.items()))
    assert all(written)
    raw = await store.values(tenant).get(vector_index.index_key("s"))
    index = VectorIndex.decode(raw)
    assert sorted(k.decode() for k in index.keys) == sorted(vectors)
    for k, v in list(vectors.items())[:5]:
        assert (await store.nearest(tenant, "s", v, 0.999, 1))[0][0] == k


async def test_expired_vectors_are_not_matched_and_are_pruned(cached_gateway: Any) -> None:
    store, tenant = await store_of(cached_gateway)
    assert await store.add_vector(tenant, "s", key("old"), unit(1, 0), 1, 2)
    assert await store.add_vector(tenant, "s", key("new"), unit(1, 0.1), 60, 2)
    await asyncio.sleep(1.1)
    assert [k for k, _ in await store.nearest(tenant, "s", unit(1, 0), 0.5, 5)] == [key("new")]
    assert await store.add_vector(tenant, "s", key("third"), unit(0, 1), 60, 2)  # the expired one made room
    index = VectorIndex.decode(await store.values(tenant).get(vector_index.index_key("s")))
    assert sorted(k.decode() for k in index.keys) == sorted([key("new"), key("third")])
    assert (index.expires > time.time()).all()


@pytest.mark.parametrize("aiproxy_backend", ["redis"], indirect=True)
async def test_writers_of_two_gateways_on_one_redis_lose_no_entry(cached_gateway: Any) -> None:
    # Two gateways (two state services and Redis clients, as two processes) on one Redis,
    # 20 writers each into one scope of one tenant: only the compare-and-set keeps them apart.
    first = await cached_gateway()
    second = await cached_gateway()
    tenant = first.harness.tenant["id"]
    rng = np.random.default_rng(11)
    vectors = {key(f"w{i}"): unit(*rng.normal(size=8)) for i in range(40)}
    stores = [first.cache.store, second.cache.store]
    writes = [stores[i % 2].add_vector(tenant, "s", k, v, 60, 2000) for i, (k, v) in enumerate(vectors.items())]
    assert all(await asyncio.gather(*writes))
    index = VectorIndex.decode(await first.cache.store.values(tenant).get(vector_index.index_key("s")))
    assert sorted(k.decode() for k in index.keys) == sorted(vectors)
