"""Benchmark-only plugins: what the monetized chain's two Redis calls cost with no logic around them.

The rate limiter counts in ``pre_request`` (one ``Counters.add_all`` call) and billing queues an
event in ``post_response`` (one ``Queue.append``). These plugins make the same two state-API calls
and nothing else: no settings, verdicts, headers, plans or events, and no worker draining the
queue. Measured beside key auth alone and the real plugins (``bench/mechanics.sh``), they split
the monetized chain's cost into the calls' mechanics (batching, the Redis round trip, the awaits)
and the plugins' own work. Installed only by ``bench/mechanics.sh``, for its run.
"""

from __future__ import annotations

from aiproxy_core import GatewayServices, RequestContext, hookimpl
from aiproxy_core.state import CounterRequest, PluginState, Queue

__all__ = ["ProbeAppend", "ProbeBoth", "ProbeCount", "ProbeStage"]

#: One counter with a limit no run reaches, as the benchmark's rate_limiter entry has.
_COUNT = (CounterRequest("probe", 1, limit=100_000_000, window=60.0),)
_ITEM = {"probe": 1}


class _Started:
    _state: PluginState
    _queue: Queue

    @hookimpl
    def startup(self, services: GatewayServices) -> None:
        self._state = services.state("mechanics_probe")
        self._queue = self._state.queue("probe")


class _Counts(_Started):
    @hookimpl
    async def pre_request(self, ctx: RequestContext) -> None:
        await self._state.counters(ctx.tenant.id).add_all(_COUNT)


class _Appends(_Started):
    @hookimpl
    async def post_response(self, ctx: RequestContext) -> None:
        await self._queue.append(_ITEM)


class ProbeStage(_Started):
    """An async ``post_response`` that calls nothing: what the stage itself costs."""

    @hookimpl
    async def post_response(self, ctx: RequestContext) -> None:
        return None


class ProbeCount(_Counts):
    """Only the counter call, in ``pre_request``."""


class ProbeAppend(_Appends):
    """Only the queue append, in ``post_response``."""


class ProbeBoth(_Counts, _Appends):
    """Both calls, as the rate limiter and billing make them."""
