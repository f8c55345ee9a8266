"""Each target's health, shared by every gateway process through the state API: its circuit
(closed, open, half-open), its recent failures and its average latency.

The request path reads only this process's view; the view is refreshed from the shared state in
the background at most every :data:`REFRESH_SECONDS` per target, and the same refresh adds this
process's successes and latencies since the last one to the shared window. A failure is written
at once (it may open the circuit, which every process must then see), so a healthy target costs a
request no store call at all.

Shared keys, in the namespace ``aiproxy.routing`` of the rule's tenant:

* ``stats/<target>``: ``{"requests", "failures", "latency_ms", "timed"}`` of the current window
  (created with the window as its TTL, so it starts afresh every ``window`` seconds);
* ``open/<target>``: present while the circuit is open (TTL: the cooldown);
* ``tripped/<target>``: present from the opening until a probe succeeds; with ``open`` gone,
  the circuit is half-open;
* ``probe/<target>``: the one request allowed through a half-open circuit (set-if-absent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Coroutine

from ..models.routing import CircuitBreakerPolicy
from ..state import Delete, PluginState, Set, Values

__all__ = ["HEALTH_NAMESPACE", "REFRESH_SECONDS", "HealthView", "TargetHealth"]

logger = logging.getLogger("aiproxy.routing")

HEALTH_NAMESPACE = "aiproxy.routing"
REFRESH_SECONDS = 0.5
#: The stats window of a target whose rule has no circuit breaker (for the targets endpoint and
#: ``lowest_latency``).
DEFAULT_WINDOW = 60.0
#: How long a half-open probe may take before another request may probe.
PROBE_SECONDS = 30.0
#: A tripped circuit is forgotten after this long without a probe (bounded state).
TRIPPED_SECONDS = 86_400.0


@dataclass(slots=True)
class HealthView:
    """This process's view of one target."""

    tenant_id: str
    key: str
    policy: CircuitBreakerPolicy | None
    state: str = "closed"
    #: Bumped each time this process sets ``state`` itself (a failure, a probe): a refresh that
    #: read the store before such a change must not overwrite it with what it read.
    changes: int = 0
    checked: float = 0.0
    refreshing: bool = False
    #: Not yet added to the shared window.
    successes: int = 0
    latency_ms: float = 0.0
    timed: int = 0
    #: From the shared window at the last refresh.
    requests: int = 0
    failures: int = 0
    average_ms: float | None = None
    #: Local estimate between refreshes (lowest_latency), an exponentially weighted average.
    recent_ms: float | None = None
    used: float = 0.0

    @property
    def window(self) -> float:
        return self.policy.window if self.policy is not None else DEFAULT_WINDOW

    def error_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None

    def settle(self, state: str) -> None:
        """Set the circuit from what this process has just seen (newer than any refresh in flight)."""
        self.state = state
        self.changes += 1


class TargetHealth:
    """One per gateway process. ``spawn`` runs a refresh off the request path."""

    def __init__(self, state: PluginState | None, spawn: Callable[[Coroutine[Any, Any, Any]], None]) -> None:
        self._state = state
        self._spawn = spawn
        self._views: dict[str, HealthView] = {}

    def view(self, tenant_id: str, key: str, policy: CircuitBreakerPolicy | None) -> HealthView:
        """The view of a target, refreshed in the background when stale."""
        view = self._views.get(key)
        if view is None or view.policy is not policy:
            view = self._views[key] = HealthView(tenant_id, key, policy)
            if len(self._views) > 100_000:  # rules come and go; keep this process's memory bounded
                self._views = {key: view}
        now = time.monotonic()
        view.used = now
        if now - view.checked > REFRESH_SECONDS and not view.refreshing and self._state is not None:
            view.refreshing = True
            self._spawn(self._refresh(view))
        return view

    def peek(self, key: str) -> HealthView | None:
        return self._views.get(key)

    async def try_probe(self, view: HealthView) -> bool:
        """True when this request is the one that may test a half-open circuit."""
        if self._state is None:
            return True
        try:
            won = await self._state.values(view.tenant_id).set_if_absent(f"probe/{view.key}", 1, ttl=PROBE_SECONDS)
        except Exception:  # the store is down: without a shared lock, this process probes
            logger.debug("taking a probe failed", exc_info=True)
            return True
        if not won:
            view.settle("open")  # someone else probes; until we hear how it went, keep away
        return won

    def succeeded(self, view: HealthView, latency_ms: float, probing: bool) -> Coroutine[Any, Any, None] | None:
        """Count a success locally; a probe's success closes the circuit (returns the store call to await)."""
        view.successes += 1
        view.latency_ms += latency_ms
        view.timed += 1
        view.recent_ms = latency_ms if view.recent_ms is None else view.recent_ms * 0.7 + latency_ms * 0.3
        if probing:
            view.settle("closed")
            return self._close(view)
        return None

    async def failed(self, view: HealthView, probing: bool) -> None:
        """Count a failure in the shared window now; open the circuit when the policy says so.

        A store that cannot be reached does not fail the request: the failover goes on, and this
        process opens the circuit on its own view when the failure comes from a probe."""
        if self._state is None:
            return
        try:
            await self._count_failure(view, probing)
        except Exception:
            logger.warning("recording a failure of target %s in the shared state failed", view.key, exc_info=True)
            if probing:
                view.settle("open")

    async def _count_failure(self, view: HealthView, probing: bool) -> None:
        policy = view.policy
        assert self._state is not None
        values = self._state.values(view.tenant_id)
        await self._add_to_window(view, failures=1)
        if policy is None:
            return
        over_count = view.failures >= policy.failures
        over_ratio = (
            policy.failure_ratio is not None
            and view.requests >= policy.min_requests
            and view.failures / view.requests >= policy.failure_ratio
        )
        if probing or over_count or over_ratio:
            view.settle("open")
            await values.atomic(
                [
                    Set(f"open/{view.key}", 1, ttl=policy.cooldown),
                    Set(f"tripped/{view.key}", 1, ttl=TRIPPED_SECONDS),
                    Delete(f"probe/{view.key}"),
                    Delete(f"stats/{view.key}"),
                ]
            )
            view.settle("open")  # again: a refresh that began before the write landed read it closed
            logger.warning("target %s opened its circuit for %.1f s (%d failures in the window)", view.key, policy.cooldown, view.failures)

    async def _add_to_window(self, view: HealthView, failures: int) -> None:
        """Add this process's successes and latencies since the last time (and ``failures``, each
        one request too) to the shared window, and take the window's totals back into the view."""
        assert self._state is not None
        successes, view.successes = view.successes, 0
        latency, view.latency_ms = view.latency_ms, 0.0
        timed, view.timed = view.timed, 0
        fields = await self._state.values(view.tenant_id).increment(
            f"stats/{view.key}",
            {"requests": successes + failures, "failures": failures, "latency_ms": round(latency), "timed": timed},
            ttl=view.window,
        )
        _take(view, fields)

    async def _close(self, view: HealthView) -> None:
        assert self._state is not None
        try:
            await self._state.values(view.tenant_id).atomic(
                [Delete(f"tripped/{view.key}"), Delete(f"probe/{view.key}"), Delete(f"stats/{view.key}")]
            )
        except Exception:
            logger.warning("closing the circuit of target %s in the shared state failed", view.key, exc_info=True)
            return
        view.settle("closed")  # again: a refresh that began before the write landed read it half-open
        logger.info("target %s closed its circuit: a probe succeeded", view.key)

    async def _refresh(self, view: HealthView) -> None:
        assert self._state is not None
        values = self._state.values(view.tenant_id)
        changes = view.changes
        try:
            await self._add_to_window(view, failures=0)
            if view.policy is not None:
                circuit = await _circuit(values, view.key)
                if view.changes == changes:  # else this process saw a newer state while the store was read
                    view.state = circuit
        except Exception:  # the store is down: keep the last view, try again next time
            logger.debug("refreshing target health failed", exc_info=True)
        finally:
            view.checked = time.monotonic()
            view.refreshing = False

    async def describe(self, tenant_id: str, key: str, policy: CircuitBreakerPolicy | None) -> dict[str, Any]:
        """A target's shared health now (for the Admin API), read from the store."""
        if self._state is None:
            return {"circuit": "closed", "requests": 0, "failures": 0, "error_rate": None, "latency_ms": None}
        values = self._state.values(tenant_id)
        fields = await values.fields(f"stats/{key}")
        local = self._views.get(key)
        if local is not None:  # this process's successes not yet added
            fields = {**fields, "requests": fields.get("requests", 0) + local.successes}
            fields["latency_ms"] = fields.get("latency_ms", 0) + round(local.latency_ms)
            fields["timed"] = fields.get("timed", 0) + local.timed
        circuit = await _circuit(values, key) if policy is not None else "closed"
        requests = fields.get("requests", 0)
        failures = fields.get("failures", 0)
        timed = fields.get("timed", 0)
        return {
            "circuit": circuit,
            "requests": requests,
            "failures": failures,
            "error_rate": round(failures / requests, 4) if requests else None,
            "latency_ms": round(fields.get("latency_ms", 0) / timed, 2) if timed else None,
        }


async def _circuit(values: Values, key: str) -> str:
    """A target's circuit in the shared state: ``open`` while its open key lives, then
    ``half_open`` until a probe succeeds (its tripped key), else ``closed``."""
    if await values.get(f"open/{key}") is not None:
        return "open"
    return "half_open" if await values.get(f"tripped/{key}") is not None else "closed"


def _take(view: HealthView, fields: dict[str, int]) -> None:
    view.requests = fields.get("requests", 0)
    view.failures = fields.get("failures", 0)
    timed = fields.get("timed", 0)
    if timed:
        view.average_ms = fields.get("latency_ms", 0) / timed
