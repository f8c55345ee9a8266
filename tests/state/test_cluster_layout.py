"""On a real Redis Cluster, all of a tenant's state shares one hash slot, and tenants spread out.

The state API's scripts and MULTI steps touch several keys of one tenant at once; a cluster
runs them only when those keys share a slot (else CROSSSLOT). These tests write through the
public API for several plugins and read back, with the server's own ``CLUSTER KEYSLOT``, where
every key landed: one slot per tenant, and the tenants of a test spread over every master, so
the state suites really exercise all three nodes.
"""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest
import redis

from aiproxy_core.state.service import StateService
from aiproxy_sdk.private_cluster import PrivateCluster
from aiproxy_sdk.redis_space import new_prefix

PLUGINS = ("rate_limiter", "billing", "cache")
TENANTS = [f"tenant-{n}" for n in range(12)]


@pytest.fixture
async def cluster_state(aiproxy_redis_cluster: PrivateCluster, tmp_path: Path) -> AsyncIterator[StateService]:
    prefix = new_prefix("aiproxy-cluster-test")
    client = aiproxy_redis_cluster.client()
    service = StateService(tmp_path, redis=client, scripts=None, prefix=prefix)
    service.open()
    try:
        yield service
    finally:
        service.close()
        await client.aclose()
        aiproxy_redis_cluster.drop_prefix(prefix)


async def write_everything(service: StateService, tenant: str) -> None:
    """Values and counters of every kind, for every plugin, through the public API only."""
    for plugin in PLUGINS:
        state = service.for_plugin(plugin)
        values = state.values(tenant)
        await values.set("plain", {"a": 1})
        await values.set("short-lived", b"\x00bytes", ttl=60)
        await values.set_if_absent("once", "x")
        await values.increment("ledger:2024-01", {"requests": 1, "tokens": 12})
        counters = state.counters(tenant)
        for kind in ("sliding", "fixed", "exact"):
            verdict = await counters.add(f"rpm-{kind}", 1, limit=10, window=60, kind=kind)
            assert verdict.allowed
        await counters.credit("credits", 100)
        reservation = await counters.reserve("credits", 10)
        assert reservation is not None
        await counters.settle(reservation, 4)


async def state_keys(client: "redis.asyncio.cluster.RedisCluster", prefix: str) -> list[str]:
    """Every key under ``prefix`` on every master (SCAN runs on each node)."""
    return [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]


async def test_the_fixture_is_a_real_three_master_cluster(aiproxy_redis_cluster: PrivateCluster) -> None:
    """Without a real cluster the other state tests would prove nothing about one: it refuses
    a command across slots (CROSSSLOT), which a single server never does."""
    client = aiproxy_redis_cluster.client()
    try:
        await client.initialize()  # learns the nodes and slots (CLUSTER SLOTS)
        masters = [node for node in client.get_nodes() if node.server_type == "primary"]
        assert len(masters) == 3
        info = await client.cluster_info(target_nodes=masters[0])
        assert info["cluster_state"] == "ok" and int(info["cluster_slots_ok"]) == 16384
        first, second = "layout-probe:{a}", "layout-probe:{b}"
        assert await client.cluster_keyslot(first) != await client.cluster_keyslot(second)
        with pytest.raises(redis.exceptions.ClusterCrossSlotError):  # the server's CROSSSLOT reply
            # Sent to one node as is (target_nodes): the server itself judges the slots.
            await client.execute_command("MSET", first, "1", second, "2", target_nodes=masters[0])
    finally:
        await client.aclose()


async def test_every_state_key_of_a_tenant_shares_one_slot(cluster_state: StateService) -> None:
    client = cluster_state.redis
    assert client is not None
    for tenant in TENANTS:
        await write_everything(cluster_state, tenant)

    keys = await state_keys(client, cluster_state.keys.prefix)
    by_tenant: dict[str, list[str]] = {}
    for key in keys:
        tenant = next((t for t in TENANTS if key.startswith(cluster_state.keys.tenant_root(t))), None)
        assert tenant is not None, f"a state key outside every tenant's root: {key}"
        by_tenant.setdefault(tenant, []).append(key)
    assert sorted(by_tenant) == sorted(TENANTS)

    for tenant, tenant_keys in by_tenant.items():
        # Every plugin wrote values and counters: the check covers all of them, not a lucky few.
        for plugin in PLUGINS:
            plugin_root = f"{cluster_state.keys.tenant_root(tenant)}{plugin}:"
            assert any(key.startswith(plugin_root) for key in tenant_keys), (tenant, plugin)
        slots = {await client.cluster_keyslot(key) for key in tenant_keys}
        assert len(slots) == 1, f"{tenant}'s state spans slots {sorted(slots)}: {sorted(tenant_keys)}"


async def test_tenants_spread_over_every_master(cluster_state: StateService) -> None:
    client = cluster_state.redis
    assert client is not None
    for tenant in TENANTS:
        await write_everything(cluster_state, tenant)
    keys = await state_keys(client, cluster_state.keys.prefix)
    owners: dict[str, set[str]] = {}
    for tenant in TENANTS:
        root = cluster_state.keys.tenant_root(tenant)
        tenant_keys = [key for key in keys if key.startswith(root)]
        assert tenant_keys
        owner = client.nodes_manager.get_node_from_slot(await client.cluster_keyslot(tenant_keys[0]))
        # Every key of the tenant really is on that master (asked of the node itself).
        for key in tenant_keys:
            assert await client.execute_command("EXISTS", key, target_nodes=owner) == 1, (key, owner.name)
        owners.setdefault(owner.name, set()).add(tenant)
    masters = {node.name for node in client.get_nodes() if node.server_type == "primary"}
    assert set(owners) == masters, f"tenants by master: {owners}"


@pytest.mark.parametrize("tenant", ["", "}leading", "a}b", "{braced}", "x{y"])
async def test_tenant_ids_with_braces_keep_one_slot_or_are_refused(cluster_state: StateService, tenant: str) -> None:
    """A hash tag is the text between the first ``{`` and the next ``}``; an empty one (``{}``)
    hashes the whole key, which would scatter the tenant's keys over slots and turn its scripts
    into CROSSSLOT errors. A tenant id either keeps one slot or is refused up front."""
    client = cluster_state.redis
    assert client is not None
    try:
        await write_everything(cluster_state, tenant)
    except ValueError:
        return
    keys = [key for key in await state_keys(client, cluster_state.keys.prefix) if key.startswith(cluster_state.keys.tenant_root(tenant))]
    assert keys
    slots = {await client.cluster_keyslot(key) for key in keys}
    assert len(slots) == 1, f"tenant {tenant!r}'s state spans slots {sorted(slots)}"
