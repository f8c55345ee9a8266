"""The store contract: what the gateway keeps, whichever backend keeps it.

Two backends pass one test suite: :class:`~aiproxy_core.store.sqlite_store.SQLiteStore`
(embedded default, one process) and :class:`~aiproxy_core.store.redis_store.RedisStore` (shared by
many processes). Every write publishes a :class:`ChangeEvent`: listeners in this process are called
before the write returns, and other processes hear it through Redis pub/sub.
"""

from __future__ import annotations

import abc
import logging
import sqlite3
from typing import TYPE_CHECKING, Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..models import ApiKey, Consumer, Rule, Tenant
from .events import ChangeEvent, Listener

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("aiproxy.store")

#: What a store call raises when its server or file cannot be used right now, rather than for a bad
#: call: Redis down, refusing, loading after a restart or slow (redis-py's own ConnectionError and
#: TimeoutError, which are not the builtins), the pool out of connections, a raw socket refused or
#: timed out (the builtins, as the request path's ScriptConnection raises), a SQLite file locked
#: by another process past its busy timeout or failing I/O (sqlite3.OperationalError). Callers
#: answer these 503 (``store_unavailable``, ``plugin_unavailable``) and the client may retry.
STORE_UNREACHABLE: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
    sqlite3.OperationalError,
)
#: ``Retry-After`` of those 503s: soon, the usual Redis restart or failover takes seconds.
UNAVAILABLE_RETRY_AFTER = "1"


class Store(abc.ABC):
    """Tenants, rules and key hashes, plus a change feed.

    Uniqueness: tenant ``name`` (case-insensitive) and ``subdomain``, key ``hash``. A write that
    breaks it raises :class:`aiproxy_core.errors.Conflict` naming the field, and changes nothing.
    """

    #: The shared Redis client when the store is Redis, for plugins that count or queue there.
    redis: "Redis | None" = None

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    # -- lifecycle ------------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect, create tables or check the server; called once before use."""

    async def close(self) -> None:
        """Release connections; called once at shutdown."""

    async def ping(self) -> None:
        """The cheapest round trip to the backend, for ``/healthz``: raises when it cannot answer.

        The caller bounds it with a short timeout. Backends with nothing to reach keep this no-op.
        """

    # -- tenants ---------------------------------------------------------------------------------
    @abc.abstractmethod
    async def create_tenant(self, tenant: Tenant) -> None: ...

    @abc.abstractmethod
    async def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    @abc.abstractmethod
    async def get_tenant_by_subdomain(self, subdomain: str) -> Tenant | None: ...

    @abc.abstractmethod
    async def list_tenants(self) -> list[Tenant]:
        """All tenants, oldest first."""

    @abc.abstractmethod
    async def update_tenant(self, tenant: Tenant) -> None:
        """Replace a stored tenant (same id); raises NotFound or Conflict."""

    @abc.abstractmethod
    async def delete_tenant(self, tenant_id: str) -> bool:
        """Delete a tenant with its rules and keys; False when there was none."""

    # -- rules -----------------------------------------------------------------------------------
    @abc.abstractmethod
    async def put_rule(self, rule: Rule) -> None:
        """Create or replace a rule (by ``tenant_id`` and ``id``)."""

    @abc.abstractmethod
    async def get_rule(self, tenant_id: str, rule_id: str) -> Rule | None: ...

    @abc.abstractmethod
    async def list_rules(self, tenant_id: str) -> list[Rule]:
        """A tenant's rules, oldest first."""

    @abc.abstractmethod
    async def delete_rule(self, tenant_id: str, rule_id: str) -> bool: ...

    # -- keys ------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def create_key(self, key: ApiKey) -> None: ...

    @abc.abstractmethod
    async def find_key(self, key_hash: str) -> ApiKey | None:
        """The key with this SHA-256, revoked or not; the auth path's only store read."""

    @abc.abstractmethod
    async def get_key(self, tenant_id: str, key_id: str) -> ApiKey | None: ...

    @abc.abstractmethod
    async def list_keys(self, tenant_id: str, consumer_id: str | None = None) -> list[ApiKey]:
        """A tenant's keys, oldest first; with ``consumer_id`` only that consumer's."""

    @abc.abstractmethod
    async def update_key(self, key: ApiKey) -> None:
        """Replace a stored key (same id and hash), e.g. to set ``revoked_at``."""

    # -- consumers -------------------------------------------------------------------------------
    @abc.abstractmethod
    async def put_consumer(self, consumer: Consumer) -> None:
        """Create or replace a consumer (by ``tenant_id`` and ``id``); NotFound without its tenant."""

    @abc.abstractmethod
    async def get_consumer(self, tenant_id: str, consumer_id: str) -> Consumer | None: ...

    @abc.abstractmethod
    async def list_consumers(self, tenant_id: str) -> list[Consumer]:
        """A tenant's consumers, oldest first."""

    @abc.abstractmethod
    async def delete_consumer(self, tenant_id: str, consumer_id: str) -> bool:
        """Delete a consumer and its keys; False when there was none."""

    # -- change feed -----------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` on every change, from this process or (on Redis) any other."""
        self._listeners.append(listener)

    async def publish(self, event: ChangeEvent) -> None:
        """Tell this process's listeners now; backends that share state tell the others too."""
        self._notify(event)

    def _notify(self, event: ChangeEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a broken listener must not break a write that already happened
                logger.exception("change listener failed on %s", event)

    @property
    def description(self) -> str:
        """A line for logs and the CLI saying where state lives."""
        return type(self).__name__


def dump(model: Any) -> str:
    """One JSON form for every stored record, shared by both backends."""
    text: str = model.model_dump_json()
    return text
