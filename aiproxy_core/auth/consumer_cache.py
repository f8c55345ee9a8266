"""The consumer behind a consumer key, cached per process like keys and tenants."""

from __future__ import annotations

from ..models import Consumer
from ..single_flight import SingleFlight
from ..store import ChangeEvent, Store


class ConsumerDirectory:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[tuple[str, str], Consumer | None] = {}
        self._loads: SingleFlight[tuple[str, str], Consumer | None] = SingleFlight()
        store.subscribe(self.on_change)

    def on_change(self, event: ChangeEvent) -> None:
        if event.kind in ("consumer", "tenant", "reset"):
            self._loads.forget()
            self._cache.clear()

    async def get(self, tenant_id: str, consumer_id: str) -> Consumer | None:
        slot = (tenant_id, consumer_id)
        if slot in self._cache:
            return self._cache[slot]
        consumer, current = await self._loads.load_current(slot, lambda: self._store.get_consumer(tenant_id, consumer_id))
        if current:  # a change event in between may have made it stale
            self._cache[slot] = consumer
        return consumer
