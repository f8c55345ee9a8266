"""The state suites' backends: every test asking for ``state_backend`` runs once per backend.

``state_backend`` is an opened :class:`StateService` (closed after the test, its data removed).
``state_storage`` is what that service stores into, for tests that close a service and open
another on the same data (:meth:`Storage.service` / :meth:`Storage.shut`).

A backend is a name in :data:`STORAGES` and a factory of its :class:`Storage`: add one (a Redis
Cluster) by writing its class and one line there.
"""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator, Callable, Protocol

import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from aiproxy_core.redis_scripts import ScriptConnection
from aiproxy_core.state import StateService
from aiproxy_sdk.private_cluster import PrivateCluster
from aiproxy_sdk.redis_space import drop_prefix, new_prefix, require_redis

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


class Storage(Protocol):
    name: str

    async def service(self) -> StateService:
        """A new, opened service on this storage (the same data every time)."""

    async def shut(self, service: StateService) -> None:
        """Close ``service`` and the connections it was given (its data stays)."""

    async def remove(self) -> None:
        """Shut every service still open and delete everything stored."""


class SqliteStorage:
    """The embedded state file in the test's tmp dir."""

    name = "sqlite"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._open: list[StateService] = []

    async def service(self) -> StateService:
        service = StateService(self.directory)
        service.open()
        self._open.append(service)
        return service

    async def shut(self, service: StateService) -> None:
        service.close()
        self._open.remove(service)

    async def remove(self) -> None:
        for service in list(self._open):
            await self.shut(service)


class RedisStorage:
    """The shared Redis on 127.0.0.1:6379 under a fresh prefix, emptied afterwards; each service
    gets its own client, built like the store's (``decode_responses=True``)."""

    name = "redis"

    def __init__(self, directory: Path) -> None:
        require_redis()
        self.directory = directory
        self.prefix = new_prefix("aiproxy-state-test")
        self._open: list[StateService] = []

    def client(self) -> Redis:
        # As the store builds its client: a burst beyond the pool waits for a free connection.
        pool = BlockingConnectionPool(host=REDIS_HOST, port=REDIS_PORT, max_connections=64, timeout=5.0, decode_responses=True)
        return Redis(connection_pool=pool)

    async def service(self) -> StateService:
        service = StateService(self.directory, redis=self.client(), prefix=self.prefix)
        service.open()
        self._open.append(service)
        return service

    async def shut(self, service: StateService) -> None:
        service.close()
        self._open.remove(service)
        assert service.redis is not None
        await service.redis.aclose()

    async def remove(self) -> None:
        for service in list(self._open):
            await self.shut(service)
        drop_prefix(self.prefix)


class RedisScriptsStorage(RedisStorage):
    """The same Redis, each service also given a request-path ``ScriptConnection`` (hiredis), as
    the gateway builds one per process: every request-path call then goes over it (``name`` stays
    "redis": it is the same kind of storage to a test that connects a second process to it)."""

    async def service(self) -> StateService:
        service = StateService(self.directory, redis=self.client(), scripts=ScriptConnection(REDIS_HOST, REDIS_PORT), prefix=self.prefix)
        service.open()
        self._open.append(service)
        return service

    async def shut(self, service: StateService) -> None:
        assert service.scripts is not None
        await service.scripts.close()
        await super().shut(service)


class ClusterStorage(RedisStorage):
    """The session's real 3-master Redis Cluster (``aiproxy_redis_cluster``) under a fresh
    prefix, emptied afterwards on every master; each service gets its own ``RedisCluster``
    client (``decode_responses=True``), so every script and MULTI meets the cluster's slot rules."""

    name = "cluster"

    def __init__(self, directory: Path, cluster: PrivateCluster) -> None:
        self.directory = directory
        self.cluster = cluster
        self.prefix = new_prefix("aiproxy-state-test")
        self._open: list[StateService] = []

    def client(self) -> Redis:  # a RedisCluster: the same command API as Redis
        return self.cluster.client()  # type: ignore[return-value]

    async def service(self) -> StateService:
        # Initialized before first use, as the gateway must: concurrent first calls on a lazy
        # RedisCluster each (re)initialize it, closing connections under commands in flight,
        # which it then retries - 200 concurrent increments counted 202-205 (redis-py #3935).
        service = await super().service()
        await service.redis.initialize()  # type: ignore[union-attr]
        return service

    async def remove(self) -> None:
        for service in list(self._open):
            await self.shut(service)
        self.cluster.drop_prefix(self.prefix)


#: Backend name -> factory of its storage (given the test's tmp dir, then the fixtures named in
#: FACTORY_FIXTURES for it).
STORAGES: dict[str, Callable[..., Storage]] = {
    "sqlite": SqliteStorage,
    "redis": RedisStorage,
    "redis-scripts": RedisScriptsStorage,
    "cluster": ClusterStorage,
}
#: Fixtures a backend's factory needs besides the tmp dir (the cluster starts only when used).
FACTORY_FIXTURES: dict[str, tuple[str, ...]] = {"cluster": ("aiproxy_redis_cluster",)}


@pytest.fixture(params=list(STORAGES))
async def state_storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    needs = [request.getfixturevalue(name) for name in FACTORY_FIXTURES.get(request.param, ())]
    storage = STORAGES[request.param](tmp_path, *needs)
    try:
        yield storage
    finally:
        await storage.remove()


@pytest.fixture
async def state_backend(state_storage: Storage) -> StateService:
    return await state_storage.service()
