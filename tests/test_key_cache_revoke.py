"""The key cache and a revoke that lands while a lookup of the same key is in flight.

The lookup read the key while it was still valid; if its answer were cached, the revoked key
would keep working on this process until the cache entry's time limit (a minute). The store here
is the real one (SQLite file or Redis), slowed down by a subclass so the revoke can land between
the read and the answer.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from aiproxy_core.auth import KeyAuthenticator, new_key
from aiproxy_core.config.schema import RedisConfig
from aiproxy_core.errors import Unauthorized
from aiproxy_core.models import ApiKey, Tenant
from aiproxy_core.store import Store
from aiproxy_core.store.redis_store import RedisStore
from aiproxy_core.store.sqlite_store import SQLiteStore


def held_reads(base: type[Store]) -> type[Store]:
    """``base`` whose ``find_key`` reads the store, then waits for ``release`` before answering."""

    class HeldReads(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.hold = False
            self.read = asyncio.Event()
            self.release = asyncio.Event()

        async def find_key(self, key_hash: str) -> ApiKey | None:
            key = await super().find_key(key_hash)
            if self.hold:
                self.read.set()
                await self.release.wait()
            return key

    return HeldReads


@pytest.fixture
async def store(aiproxy_backend: dict[str, Any] | None, tmp_path: Path) -> AsyncIterator[Any]:
    if aiproxy_backend is None:
        opened = held_reads(SQLiteStore)(str(tmp_path / "aiproxy.db"))
    else:
        opened = held_reads(RedisStore)(RedisConfig(host="127.0.0.1", port=6379, prefix=aiproxy_backend["prefix"]))
    await opened.open()
    yield opened
    await opened.close()


async def test_a_lookup_in_flight_during_a_revoke_is_not_cached(store: Any) -> None:
    now = datetime.now(timezone.utc)
    await store.create_tenant(Tenant(id="acme", name="Acme", subdomain="acme", created_at=now, updated_at=now))
    raw, record = new_key("acme")
    await store.create_key(record)
    auth = KeyAuthenticator(store)

    store.hold = True
    in_flight = asyncio.create_task(auth.authenticate("acme", raw))
    await asyncio.wait_for(store.read.wait(), 5)  # the lookup has read the key, still valid
    await store.update_key(record.model_copy(update={"revoked_at": datetime.now(timezone.utc)}))
    store.hold = False
    store.release.set()
    # The request that was already being checked may pass: it started before the revoke.
    assert (await asyncio.wait_for(in_flight, 5)).id == record.id

    # Every later request must see the revoke, not the answer read before it.
    with pytest.raises(Unauthorized) as refused:
        await auth.authenticate("acme", raw)
    assert refused.value.code == "revoked_api_key"
