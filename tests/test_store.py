"""One suite, both backends: SQLite and Redis must be interchangeable behind ``Store``."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterPubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from aiproxy_core.config.schema import RedisConfig
from aiproxy_core.errors import Conflict, NotFound
from aiproxy_core.models import ApiKey, Consumer, Rule, Tenant
from aiproxy_core.store import ChangeEvent, Store
from aiproxy_core.store.redis_store import RedisStore
from aiproxy_core.store.sqlite_store import SQLiteStore
from aiproxy_sdk.private_cluster import PrivateCluster
from aiproxy_sdk.redis_space import new_prefix

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def tenant(tid: str, name: str | None = None, subdomain: str | None = None, minute: int = 0) -> Tenant:
    return Tenant(
        id=tid, name=name or tid.title(), subdomain=subdomain or tid, created_at=at(minute), updated_at=at(minute)
    )


def rule(tenant_id: str, rid: str, minute: int = 0, path: str = "/v1/chat/completions") -> Rule:
    return Rule(
        id=rid,
        tenant_id=tenant_id,
        path=path,
        target="http://127.0.0.1:9/",
        created_at=at(minute),
        updated_at=at(minute),
    )


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key(tenant_id: str, kid: str, minute: int = 0, consumer_id: str | None = None) -> ApiKey:
    return ApiKey(
        id=kid, tenant_id=tenant_id, consumer_id=consumer_id, prefix="aip_abcd", hash=sha(kid), created_at=at(minute)
    )


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def redis_prefix(aiproxy_redis_prefix: str) -> str:
    """The SDK's fresh prefix on the shared server: skipped without Redis (failed under CI),
    emptied afterwards and checked for leftovers at the session's end.

    Synchronous on purpose: the async ``store`` fixture pulls it in with getfixturevalue only for
    the Redis param, and an async fixture cannot be set up from inside a running one.
    """
    return aiproxy_redis_prefix


def redis_config(prefix: str) -> RedisConfig:
    return RedisConfig(host="127.0.0.1", port=6379, db=0, prefix=prefix)


@pytest.fixture
def cluster_prefix(aiproxy_redis_cluster: PrivateCluster) -> Iterator[str]:
    """A fresh prefix on the session's real 3-master Redis Cluster, emptied on every master after."""
    prefix = new_prefix("aiproxy-store-test")
    yield prefix
    aiproxy_redis_cluster.drop_prefix(prefix)


def cluster_config(cluster: PrivateCluster, prefix: str) -> RedisConfig:
    node = cluster.startup_node
    return RedisConfig(host=node.host, port=node.port, prefix=prefix, cluster=True)


@dataclass
class SharedRedis:
    """One of the two shared backends: the single server, or the cluster (any node named)."""

    config: Callable[[], RedisConfig]
    #: ``admin_of(store)``: a plain client of the node holding ``store``'s subscription.
    admin_of: Callable[[RedisStore], Redis]


@pytest.fixture(params=["redis", "cluster"])
def shared_redis(request: pytest.FixtureRequest) -> SharedRedis:
    if request.param == "redis":
        prefix = request.getfixturevalue("redis_prefix")
        return SharedRedis(lambda: redis_config(prefix), lambda store: Redis(host="127.0.0.1", port=6379))
    cluster = request.getfixturevalue("aiproxy_redis_cluster")
    prefix = request.getfixturevalue("cluster_prefix")

    def admin_of(store: RedisStore) -> Redis:
        assert isinstance(store._pubsub, ClusterPubSub)
        node = store._pubsub.get_pubsub_node()
        assert node is not None
        return Redis(host=node.host, port=node.port)

    return SharedRedis(lambda: cluster_config(cluster, prefix), admin_of)


@pytest.fixture(params=["sqlite", "redis", "cluster"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        aiproxy_backend: Store = SQLiteStore(str(tmp_path / "aiproxy.db"))
    elif request.param == "cluster":
        cluster = request.getfixturevalue("aiproxy_redis_cluster")
        aiproxy_backend = RedisStore(cluster_config(cluster, request.getfixturevalue("cluster_prefix")))
    else:
        aiproxy_backend = RedisStore(redis_config(request.getfixturevalue("redis_prefix")))
    await aiproxy_backend.open()
    yield aiproxy_backend
    await aiproxy_backend.close()


def recorder(store: Store) -> list[ChangeEvent]:
    events: list[ChangeEvent] = []
    store.subscribe(events.append)
    return events


async def eventually(check: Callable[[], bool], seconds: float = 1.0) -> bool:
    """Poll: cross-process events arrive asynchronously, but well within a second."""
    for _ in range(int(seconds / 0.01)):
        if check():
            return True
        await asyncio.sleep(0.01)
    return check()


# -- tenants -------------------------------------------------------------------------------------
async def test_tenant_create_get_list_update_delete(store: Store) -> None:
    # Created newest first, so "oldest first" must come from created_at, not insertion order.
    await store.create_tenant(tenant("beta", minute=2))
    await store.create_tenant(tenant("acme", minute=1))

    assert await store.get_tenant("acme") == tenant("acme", minute=1)
    assert await store.get_tenant("nope") is None
    assert (await store.get_tenant_by_subdomain("beta")).id == "beta"
    assert (await store.get_tenant_by_subdomain("BETA")).id == "beta"
    assert await store.get_tenant_by_subdomain("nope") is None
    assert [t.id for t in await store.list_tenants()] == ["acme", "beta"]

    changed = tenant("acme", name="Acme Corp", subdomain="acme2", minute=1).model_copy(
        update={"tier": "pro", "updated_at": at(5)}
    )
    await store.update_tenant(changed)
    assert await store.get_tenant("acme") == changed
    assert await store.get_tenant_by_subdomain("acme") is None
    assert (await store.get_tenant_by_subdomain("acme2")).tier == "pro"
    # The old name and subdomain are free again.
    await store.create_tenant(tenant("gamma", name="Acme", subdomain="acme", minute=3))

    assert await store.delete_tenant("acme") is True
    assert await store.get_tenant("acme") is None
    assert await store.get_tenant_by_subdomain("acme2") is None
    assert await store.delete_tenant("acme") is False
    assert [t.id for t in await store.list_tenants()] == ["beta", "gamma"]


async def test_tenant_name_is_unique_ignoring_case(store: Store) -> None:
    await store.create_tenant(tenant("acme", name="Acme"))
    with pytest.raises(Conflict) as caught:
        await store.create_tenant(tenant("other", name="ACME", subdomain="other"))
    assert caught.value.code == "tenant_name_taken"
    assert "name" in caught.value.message
    assert [t.id for t in await store.list_tenants()] == ["acme"]
    assert await store.get_tenant_by_subdomain("other") is None


async def test_tenant_subdomain_is_unique(store: Store) -> None:
    await store.create_tenant(tenant("acme"))
    with pytest.raises(Conflict) as caught:
        await store.create_tenant(tenant("other", name="Other", subdomain="acme"))
    assert caught.value.code == "subdomain_taken"
    assert "subdomain" in caught.value.message
    assert await store.get_tenant("other") is None
    assert (await store.get_tenant_by_subdomain("acme")).id == "acme"
    # The rejected tenant's name was not reserved either.
    await store.create_tenant(tenant("other2", name="Other", subdomain="other2"))


async def test_tenant_id_is_unique(store: Store) -> None:
    await store.create_tenant(tenant("acme"))
    with pytest.raises(Conflict):
        await store.create_tenant(tenant("acme", name="Else", subdomain="else"))
    assert (await store.get_tenant("acme")).name == "Acme"
    assert await store.get_tenant_by_subdomain("else") is None


async def test_update_to_taken_subdomain_or_name_changes_nothing(store: Store) -> None:
    await store.create_tenant(tenant("acme"))
    await store.create_tenant(tenant("beta"))
    before = await store.get_tenant("beta")

    with pytest.raises(Conflict) as caught:
        await store.update_tenant(tenant("beta", subdomain="acme"))
    assert caught.value.code == "subdomain_taken"
    with pytest.raises(Conflict) as caught:
        await store.update_tenant(tenant("beta", name="acme", subdomain="beta-new"))
    assert caught.value.code == "tenant_name_taken"

    assert await store.get_tenant("beta") == before
    assert (await store.get_tenant_by_subdomain("acme")).id == "acme"
    assert await store.get_tenant_by_subdomain("beta-new") is None


async def test_update_may_keep_or_recase_its_own_name(store: Store) -> None:
    await store.create_tenant(tenant("acme", name="Acme"))
    await store.update_tenant(tenant("acme", name="ACME"))
    assert (await store.get_tenant("acme")).name == "ACME"
    with pytest.raises(Conflict):
        await store.create_tenant(tenant("other", name="acme", subdomain="other"))


async def test_update_missing_tenant_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as caught:
        await store.update_tenant(tenant("ghost"))
    assert caught.value.code == "tenant_not_found"
    assert await store.list_tenants() == []
    assert await store.get_tenant_by_subdomain("ghost") is None


async def test_delete_tenant_cascades_to_rules_and_keys(store: Store) -> None:
    await store.create_tenant(tenant("acme"))
    await store.create_tenant(tenant("beta"))
    await store.put_rule(rule("acme", "r1"))
    await store.put_rule(rule("beta", "r1"))
    await store.create_key(api_key("acme", "k1"))
    await store.create_key(api_key("beta", "k2"))

    assert await store.delete_tenant("acme") is True

    assert await store.list_rules("acme") == []
    assert await store.get_rule("acme", "r1") is None
    assert await store.list_keys("acme") == []
    assert await store.find_key(sha("k1")) is None
    assert await store.get_key("acme", "k1") is None
    # The other tenant is untouched.
    assert [r.id for r in await store.list_rules("beta")] == ["r1"]
    assert (await store.find_key(sha("k2"))).tenant_id == "beta"
    # Recreating the tenant starts empty, and the key hash is free again.
    await store.create_tenant(tenant("acme"))
    assert await store.list_rules("acme") == []
    await store.create_key(api_key("acme", "k1"))


# -- rules ---------------------------------------------------------------------------------------
async def test_rules_crud(store: Store) -> None:
    await store.create_tenant(tenant("acme"))
    await store.create_tenant(tenant("beta"))
    await store.put_rule(rule("acme", "r2", minute=2))
    await store.put_rule(rule("acme", "r1", minute=1))
    await store.put_rule(rule("beta", "r1", minute=1, path="/other"))

    assert await store.get_rule("acme", "r1") == rule("acme", "r1", minute=1)
    assert await store.get_rule("acme", "nope") is None
    assert [r.id for r in await store.list_rules("acme")] == ["r1", "r2"]
    assert (await store.get_rule("beta", "r1")).path == "/other"

    replaced = rule("acme", "r1", minute=1, path="/v1/embeddings")
    await store.put_rule(replaced)
    assert await store.get_rule("acme", "r1") == replaced
    assert len(await store.list_rules("acme")) == 2

    assert await store.delete_rule("acme", "r1") is True
    assert await store.delete_rule("acme", "r1") is False
    assert [r.id for r in await store.list_rules("acme")] == ["r2"]
    assert await store.get_rule("beta", "r1") is not None
    assert await store.list_rules("nobody") == []


async def test_rule_of_unknown_tenant_is_refused(store: Store) -> None:
    with pytest.raises(NotFound) as caught:
        await store.put_rule(rule("ghost", "r1"))
    assert caught.value.code == "tenant_not_found"
    assert await store.list_rules("ghost") == []


# -- keys ----------------------------------------------------------------------------------------
async def test_keys_create_find_list_update(store: Store) -> None:
    await store.create_tenant(tenant("acme"))
    await store.create_tenant(tenant("beta"))
    await store.create_key(api_key("acme", "k2", minute=2, consumer_id="alice"))
    await store.create_key(api_key("acme", "k1", minute=1))
    await store.create_key(api_key("acme", "k3", minute=3, consumer_id="alice"))
    await store.create_key(api_key("beta", "k4", minute=1, consumer_id="alice"))

    assert await store.find_key(sha("k1")) == api_key("acme", "k1", minute=1)
    assert await store.find_key(sha("unknown")) is None
    assert (await store.get_key("acme", "k2")).consumer_id == "alice"
    assert await store.get_key("beta", "k2") is None  # another tenant's key id
    assert [k.id for k in await store.list_keys("acme")] == ["k1", "k2", "k3"]
    assert [k.id for k in await store.list_keys("acme", consumer_id="alice")] == ["k2", "k3"]
    assert await store.list_keys("acme", consumer_id="bob") == []

    revoked = api_key("acme", "k1", minute=1).model_copy(update={"revoked_at": at(10)})
    await store.update_key(revoked)
    assert (await store.find_key(sha("k1"))).revoked_at == at(10)
    assert (await store.get_key("acme", "k1")).revoked_at == at(10)


async def test_key_hash_and_id_are_unique(store: Store) -> None:
    await store.create_tenant(tenant("acme"))
    await store.create_key(api_key("acme", "k1"))

    same_hash = api_key("acme", "k2").model_copy(update={"hash": sha("k1")})
    with pytest.raises(Conflict) as caught:
        await store.create_key(same_hash)
    assert caught.value.code == "key_exists"
    assert "hash" in caught.value.message
    assert await store.get_key("acme", "k2") is None
    assert (await store.find_key(sha("k1"))).id == "k1"

    same_id = api_key("acme", "k1").model_copy(update={"hash": sha("other")})
    with pytest.raises(Conflict) as caught:
        await store.create_key(same_id)
    assert caught.value.code == "key_exists"
    assert await store.find_key(sha("other")) is None
    assert [k.id for k in await store.list_keys("acme")] == ["k1"]


async def test_key_writes_need_an_existing_tenant_and_key(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.create_key(api_key("ghost", "k1"))
    assert await store.find_key(sha("k1")) is None

    await store.create_tenant(tenant("acme"))
    with pytest.raises(NotFound):
        await store.update_key(api_key("acme", "k1"))
    assert await store.find_key(sha("k1")) is None


# -- change feed ---------------------------------------------------------------------------------
def consumer(tenant_id: str, cid: str, minute: int = 0, plan_id: str | None = None) -> Consumer:
    return Consumer(id=cid, tenant_id=tenant_id, name=cid.title(), plan_id=plan_id, created_at=at(minute), updated_at=at(minute))


async def test_consumers_crud_and_delete_takes_their_keys(store: Store) -> None:
    await store.create_tenant(tenant("t1"))
    await store.create_tenant(tenant("t2"))
    events = recorder(store)
    await store.put_consumer(consumer("t1", "c2", minute=2))
    await store.put_consumer(consumer("t1", "c1", minute=1, plan_id="plan_a"))
    await store.put_consumer(consumer("t2", "c1"))
    assert [c.id for c in await store.list_consumers("t1")] == ["c1", "c2"]
    assert (await store.get_consumer("t1", "c1")).plan_id == "plan_a"
    assert await store.get_consumer("t1", "missing") is None
    await store.put_consumer(consumer("t1", "c1", minute=1, plan_id="plan_b"))
    assert (await store.get_consumer("t1", "c1")).plan_id == "plan_b"
    assert ChangeEvent("consumer", tenant_id="t1", consumer_id="c1") in events

    await store.create_key(api_key("t1", "k1", consumer_id="c1"))
    await store.create_key(api_key("t1", "k2", consumer_id="c2"))
    await store.create_key(api_key("t1", "k3"))
    events.clear()
    assert await store.delete_consumer("t1", "c1") is True
    assert await store.delete_consumer("t1", "c1") is False
    assert await store.get_consumer("t1", "c1") is None
    assert await store.find_key(sha("k1")) is None
    assert [k.id for k in await store.list_keys("t1")] == ["k2", "k3"]
    assert ChangeEvent("key", tenant_id="t1", key_hash=sha("k1")) in events
    assert await store.get_consumer("t2", "c1") is not None  # another tenant's consumer of the same id


async def test_consumers_need_their_tenant_and_go_with_it(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.put_consumer(consumer("nobody", "c1"))
    await store.create_tenant(tenant("t1"))
    await store.put_consumer(consumer("t1", "c1"))
    await store.delete_tenant("t1")
    assert await store.list_consumers("t1") == []


async def test_every_write_notifies_listeners(store: Store) -> None:
    events = recorder(store)

    await store.create_tenant(tenant("acme"))
    await store.update_tenant(tenant("acme", name="Acme 2"))
    await store.put_rule(rule("acme", "r1"))
    await store.delete_rule("acme", "r1")
    await store.create_key(api_key("acme", "k1"))
    await store.update_key(api_key("acme", "k1").model_copy(update={"revoked_at": at(1)}))
    await store.delete_tenant("acme")

    # Listeners hear a local write before it returns: no waiting needed.
    assert events == [
        ChangeEvent("tenant", tenant_id="acme"),
        ChangeEvent("tenant", tenant_id="acme"),
        ChangeEvent("rule", tenant_id="acme"),
        ChangeEvent("rule", tenant_id="acme"),
        ChangeEvent("key", tenant_id="acme", key_hash=sha("k1")),
        ChangeEvent("key", tenant_id="acme", key_hash=sha("k1")),
        ChangeEvent("tenant", tenant_id="acme"),
        ChangeEvent("reset"),
    ]


async def test_failed_or_empty_writes_notify_nobody(store: Store) -> None:
    await store.create_tenant(tenant("acme"))
    events = recorder(store)

    with pytest.raises(Conflict):
        await store.create_tenant(tenant("acme2", subdomain="acme"))
    with pytest.raises(NotFound):
        await store.update_tenant(tenant("ghost"))
    assert await store.delete_rule("acme", "nope") is False
    assert await store.delete_tenant("ghost") is False

    await asyncio.sleep(0.05)
    assert events == []


async def test_sqlite_keeps_everything_across_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    first = SQLiteStore(path)
    await first.open()
    await first.create_tenant(tenant("acme"))
    await first.put_rule(rule("acme", "r1"))
    await first.create_key(api_key("acme", "k1", consumer_id="alice"))
    await first.close()

    second = SQLiteStore(path)
    await second.open()
    try:
        assert await second.get_tenant("acme") == tenant("acme")
        assert await second.get_rule("acme", "r1") == rule("acme", "r1")
        assert await second.find_key(sha("k1")) == api_key("acme", "k1", consumer_id="alice")
        # The uniqueness indexes came back too.
        with pytest.raises(Conflict):
            await second.create_tenant(tenant("other", name="ACME", subdomain="other"))
        assert second.description == f"SQLite file {tmp_path / 'state.db'}"
    finally:
        await second.close()


# -- Redis only ----------------------------------------------------------------------------------
async def test_redis_write_reaches_another_instance(shared_redis: SharedRedis) -> None:
    writer, reader = RedisStore(shared_redis.config()), RedisStore(shared_redis.config())
    await writer.open()
    await reader.open()
    try:
        heard = recorder(reader)
        await writer.create_tenant(tenant("acme"))
        expected = ChangeEvent("tenant", tenant_id="acme")
        assert await eventually(lambda: heard == [expected])
        assert await reader.get_tenant("acme") == tenant("acme")

        await writer.create_key(api_key("acme", "k1"))
        assert await eventually(lambda: heard[-1:] == [ChangeEvent("key", tenant_id="acme", key_hash=sha("k1"))])
    finally:
        await writer.close()
        await reader.close()


async def test_redis_store_ignores_its_own_echo(shared_redis: SharedRedis) -> None:
    store = RedisStore(shared_redis.config())
    await store.open()
    try:
        events = recorder(store)
        await store.create_tenant(tenant("acme"))
        await asyncio.sleep(0.2)  # long enough for the pub/sub echo to come back
        assert events == [ChangeEvent("tenant", tenant_id="acme")]
    finally:
        await store.close()


async def test_redis_resubscribes_and_resets_after_a_dropped_connection(shared_redis: SharedRedis) -> None:
    writer, reader = RedisStore(shared_redis.config()), RedisStore(shared_redis.config())
    await writer.open()
    await reader.open()
    admin = shared_redis.admin_of(reader)
    try:
        heard = recorder(reader)
        # Kill only the reader's subscription connection; other tests may share this server.
        clients = await admin.client_list()
        name = f"aiproxy-{reader._origin}"
        subscriptions = [c for c in clients if c.get("name") == name and int(c.get("sub", 0)) > 0]
        assert len(subscriptions) == 1
        await admin.client_kill_filter(_id=subscriptions[0]["id"])

        assert await eventually(lambda: ChangeEvent("reset") in heard, seconds=5)
        await writer.create_tenant(tenant("acme"))
        assert await eventually(lambda: ChangeEvent("tenant", tenant_id="acme") in heard)
    finally:
        await admin.aclose()
        await writer.close()
        await reader.close()


async def test_redis_resubscribes_itself_when_the_client_gives_up(shared_redis: SharedRedis) -> None:
    """When redis-py does not reconnect on its own, the listen loop opens a new subscription."""
    writer, reader = RedisStore(shared_redis.config()), RedisStore(shared_redis.config())
    await writer.open()
    await reader.open()
    admin = shared_redis.admin_of(reader)
    try:
        heard = recorder(reader)
        subscription = reader._pubsub
        assert subscription is not None and subscription.connection is not None
        subscription.connection.retry = Retry(NoBackoff(), 0)  # as if its retries were used up
        name = f"aiproxy-{reader._origin}"
        clients = [c for c in await admin.client_list() if c.get("name") == name and int(c.get("sub", 0)) > 0]
        await admin.client_kill_filter(_id=clients[0]["id"])

        assert await eventually(lambda: ChangeEvent("reset") in heard, seconds=3)
        assert reader._pubsub is not subscription
        await writer.create_tenant(tenant("acme"))
        assert await eventually(lambda: ChangeEvent("tenant", tenant_id="acme") in heard)
    finally:
        await admin.aclose()
        await writer.close()
        await reader.close()


async def test_redis_open_names_the_unreachable_server() -> None:
    store = RedisStore(RedisConfig(host="127.0.0.1", port=1))
    with pytest.raises(ConnectionError, match="127.0.0.1:1"):
        await store.open()
    await store.close()


async def test_redis_description_and_client(redis_prefix: str) -> None:
    store = RedisStore(redis_config(redis_prefix))
    assert store.description == f"Redis 127.0.0.1:6379 db 0 prefix {redis_prefix}"
    await store.open()
    try:
        await store.create_tenant(tenant("acme"))
        # Plugins share the client; everything the store wrote lives under the prefix.
        names = [name async for name in store.redis.scan_iter(match=redis_prefix + ":*")]
        assert names and all(name.startswith(redis_prefix + ":") for name in names)
    finally:
        await store.close()
