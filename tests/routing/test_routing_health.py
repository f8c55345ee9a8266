"""A target's circuit in one process while its background refresh and its own failures overlap.

The refresh reads the shared store off the request path; a failure that opens the circuit writes
it. Whichever finishes last must not hide the newer of the two: a refresh that read the store
before the circuit opened must not close it again (a request would then go to a target that has
just failed, the flake CI once showed in the circuit test on Redis).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncIterator, Coroutine

import pytest

from aiproxy_core.models.routing import CircuitBreakerPolicy
from aiproxy_core.routing import HEALTH_NAMESPACE, TargetHealth
from aiproxy_core.routing.health import HealthView
from aiproxy_core.state import PluginState, StateService

POLICY = CircuitBreakerPolicy(failures=1, window=30, cooldown=30)


class Pause:
    """Holds a store call at one point until the test lets it go."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def here(self) -> None:
        self.reached.set()
        await self.release.wait()


class PausingValues:
    """The real values of a tenant, with a pause after reading a circuit's ``open/`` key or
    before the atomic write that opens it."""

    def __init__(self, inner: Any, after_read: Pause | None, before_write: Pause | None) -> None:
        self._inner = inner
        self._after_read = after_read
        self._before_write = before_write

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def get(self, key: str) -> Any:
        value = await self._inner.get(key)
        if self._after_read is not None and key.startswith("open/"):
            pause, self._after_read = self._after_read, None
            await pause.here()
        return value

    async def atomic(self, operations: list[Any]) -> Any:
        if self._before_write is not None:
            pause, self._before_write = self._before_write, None
            await pause.here()
        return await self._inner.atomic(operations)


class PausingState:
    def __init__(self, inner: PluginState) -> None:
        self._inner = inner
        self.after_read: Pause | None = None
        self.before_write: Pause | None = None

    def values(self, tenant_id: str) -> PausingValues:
        values = PausingValues(self._inner.values(tenant_id), self.after_read, self.before_write)
        self.after_read = self.before_write = None  # each pause is taken once
        return values


@pytest.fixture
async def health_state(tmp_path: Path) -> AsyncIterator[PausingState]:
    service = StateService(tmp_path)
    service.open()
    try:
        yield PausingState(service.for_plugin(HEALTH_NAMESPACE))
    finally:
        service.close()


class Watched:
    """A process's target health whose background refreshes the test can wait for."""

    def __init__(self, state: PausingState) -> None:
        self.refreshes: list[asyncio.Task[Any]] = []
        self.health = TargetHealth(state, self._spawn)  # type: ignore[arg-type]

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        self.refreshes.append(asyncio.ensure_future(coroutine))

    def look(self) -> HealthView:
        """The request path's look at the target (it starts a refresh when the view is stale)."""
        return self.health.view("t1", "target", POLICY)

    async def refreshed(self) -> None:
        await asyncio.gather(*self.refreshes)

    async def stale_view(self) -> HealthView:
        """A view refreshed once, then stale, so the next look refreshes it again."""
        view = self.look()
        await self.refreshed()
        view.checked = 0.0
        return view

    async def stored_circuit(self) -> str:
        return (await self.health.describe("t1", "target", POLICY))["circuit"]


async def test_a_refresh_that_read_the_store_before_a_failure_does_not_close_the_circuit(health_state: PausingState) -> None:
    watched = Watched(health_state)
    read = health_state.after_read = Pause()
    view = watched.look()  # new: a refresh starts and reads "closed"
    await read.reached.wait()

    await watched.health.failed(view, probing=False)  # the circuit opens meanwhile
    assert view.state == "open"
    read.release.set()
    await watched.refreshed()

    assert view.state == "open", "the refresh put back what it had read before the circuit opened"
    assert await watched.stored_circuit() == "open"


async def test_a_refresh_that_began_before_the_opening_landed_does_not_close_the_circuit(health_state: PausingState) -> None:
    watched = Watched(health_state)
    view = await watched.stale_view()
    write = health_state.before_write = Pause()
    failing = asyncio.ensure_future(watched.health.failed(view, probing=False))
    await write.reached.wait()  # open here, not yet in the store
    watched.look()  # a refresh reads the store: still closed there
    await watched.refreshed()
    write.release.set()
    await failing

    assert view.state == "open"
    assert await watched.stored_circuit() == "open"


async def test_a_refresh_after_the_opening_reads_it_open(health_state: PausingState) -> None:
    """The guard above keeps only newer local states: an ordinary refresh still takes the store's."""
    watched = Watched(health_state)
    view = await watched.stale_view()
    await watched.health.failed(view, probing=False)
    view.state = "closed"  # as if another process's view: only the store says open
    view.checked = 0.0
    watched.look()
    await watched.refreshed()
    assert view.state == "open"
