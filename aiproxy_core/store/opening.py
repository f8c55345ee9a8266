"""Choosing the store from the config: Redis when there is a ``redis`` section, else SQLite."""

from __future__ import annotations

from ..config import GatewayConfig
from .base import Store


def store_for(config: GatewayConfig) -> Store:
    """The store ``config`` names, not yet opened (``await store.open()``); public for plugin CLIs."""
    if config.redis is not None:
        from .redis_store import RedisStore

        return RedisStore(config.redis)
    from .sqlite_store import SQLiteStore

    return SQLiteStore(config.storage.path)
