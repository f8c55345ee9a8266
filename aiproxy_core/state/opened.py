"""The store and state API a gateway with a given config uses, opened for one CLI command."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, AsyncIterator

from ..store.opening import store_for
from .service import StateService

if TYPE_CHECKING:
    from ..config import GatewayConfig
    from ..store import Store

__all__ = ["opened_state"]


@contextlib.asynccontextmanager
async def opened_state(config: GatewayConfig) -> AsyncIterator[tuple[StateService, Store]]:
    """``async with opened_state(config) as (state, store)``: what ``aiproxy serve`` would open for
    ``config`` (a plugin's command reads ``state.for_plugin(name)``), closed when the block ends."""
    store = store_for(config)
    await store.open()
    state = StateService.for_config(config, store.redis)
    state.open()
    try:
        await state.start()
        yield state, store
    finally:
        await state.stop()
        state.close()
        await store.close()
