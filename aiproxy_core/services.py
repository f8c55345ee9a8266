"""What a plugin gets at startup: the gateway's store, Redis client, config and a data folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .config import GatewayConfig
from .models import ChainEntry
from .redis_scripts import ScriptConnection
from .state import PluginState, StateService
from .store import Store

if TYPE_CHECKING:
    from redis.asyncio import Redis


class ClusterUnsupported(RuntimeError):
    """What a plugin asked for does not exist on a Redis Cluster gateway (``services.redis``)."""


@dataclass(frozen=True)
class GatewayServices:
    config: GatewayConfig
    store: Store
    #: Where plugins keep files (indexes, outboxes): beside the SQLite file, or ``./aiproxy-data``.
    data_dir: Path
    #: Lua calls to the gateway's Redis on the request path, the fast way (None when embedded):
    #: ``await services.scripts.evalsha(LUA, keys, args)``. One per process, closed by the gateway.
    #: None on a Redis Cluster too (it talks to one server).
    scripts: ScriptConnection | None = None
    #: The state API's backend (see :meth:`state`); the gateway opens and closes it.
    state_service: StateService | None = None

    def state(self, plugin: str) -> PluginState:
        """``plugin``'s own namespace of values, counters and queues, on this gateway's backend
        (SQLite embedded, Redis when configured), scoped by tenant: docs/plugin_state.md."""
        if self.state_service is None:
            raise RuntimeError("this gateway was built without a state service")
        return self.state_service.for_plugin(plugin)

    @property
    def redis(self) -> "Redis | None":
        """The shared Redis client, or None when the gateway runs embedded.

        Not on a Redis Cluster: commands of a plugin's own could span hash slots, so there a
        plugin keeps shared state only through :meth:`state` (raises :class:`ClusterUnsupported`).
        """
        if self.config.redis is not None and self.config.redis.cluster:
            raise ClusterUnsupported(
                "services.redis is not available on a Redis Cluster (redis.cluster: true):"
                " keep the plugin's state with services.state(...) instead"
            )
        return self.store.redis

    @property
    def redis_prefix(self) -> str | None:
        """The key prefix plugins must put before their Redis keys."""
        return self.config.redis.prefix if self.config.redis is not None else None

    async def chain_entries(self, plugin: str) -> list[ChainEntry]:
        """The enabled chain entries naming ``plugin`` saved now, in tenants' required plugins and rules.

        For start-up work only a plugin in use needs (loading a model): a plugin installed but in
        no chain then costs nothing. Entries saved later are not here; their first request pays.
        """
        store = self.store
        found: list[ChainEntry] = []
        for tenant in await store.list_tenants():
            entries = [*tenant.required_plugins.values()]
            for rule in await store.list_rules(tenant.id):
                entries.extend(rule.plugin_chain)
            found.extend(entry for entry in entries if entry.name == plugin and entry.enabled)
        return found

    @property
    def embedded(self) -> bool:
        return self.store.redis is None
