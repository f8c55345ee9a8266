"""The ``analytics`` plugin: a record per request, aggregated off the request path.

* ``response_chunk``: a streamed answer's usage event is noted (the stream's tokens).
* ``post_response`` (after the client has its answer): the request leaves a row (:mod:`.row`:
  what its context holds, read later) in this process's memory.
* A task started in ``startup`` adds the rows up (:mod:`.batch`: latency, TTFT, tokens, cost,
  country, ...) and writes changed buckets every ``flush_seconds`` (and the records, batched);
  ``shutdown`` writes the last ones. See :mod:`.recorder` for why processes never contend, and
  :mod:`.query` for how readers add them up.

The entry point names the class; the gateway makes one instance per process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
from typing import Any

from starlette.routing import BaseRoute

from aiproxy_core import GatewayError, GatewayServices, RequestContext, hookimpl, openai_shapes

from .admin_routes import analytics_routes
from .openapi import analytics_openapi
from .cli import add_analytics_command
from .portal_routes import analytics_portal_routes
from .country import CountryLookup, CountryOf, database_path
from .recorder import Recorder
from .row import row_of
from .settings import AnalyticsConfig, AnalyticsSettings

__all__ = ["Analytics"]

logger = logging.getLogger("aiproxy.analytics")

_STREAM_USAGE = "analytics.stream_usage"
#: How long shutdown waits for the last write.
_FINAL_FLUSH_SECONDS = 5.0


def _loaded_table(path: str) -> CountryLookup:
    """The country table, then ``gc.freeze()``: its lists hold millions of entries, and every full
    garbage collection walked them (44 ms each here). Frozen objects are never scanned again; the table lives as long as the process."""
    table = CountryLookup(path)
    gc.freeze()
    return table


class Analytics:
    def __init__(self, *, config: AnalyticsConfig | None = None) -> None:
        #: Tests pass a config; the entry point's instance takes ``plugins.analytics``.
        self._given_config = config
        self.recorder: Recorder | None = None
        self._countries: CountryLookup | None = None
        self._database = ""
        self._loading: asyncio.Future[CountryLookup] | None = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._country_header: str | None = None
        self._keep_records = False

    @hookimpl
    def settings_model(self) -> type[AnalyticsSettings]:
        return AnalyticsSettings

    @hookimpl
    def config_model(self) -> type[AnalyticsConfig]:
        return AnalyticsConfig

    @hookimpl
    async def startup(self, services: GatewayServices, config: AnalyticsConfig | None) -> None:
        config = self._given_config or config or AnalyticsConfig()
        # The table costs ~0.3 s of CPU and ~40 MB: loaded (off the event loop's thread) at start
        # only when a saved chain uses analytics, else by the first flush with rows to count, so
        # a gateway with the plugin installed but unused starts as quickly and stays as small.
        self._database = str(database_path(config.country_database))
        if await services.chain_entries("analytics"):
            self._countries = await asyncio.to_thread(_loaded_table, self._database)
        self.recorder = Recorder(services.state("analytics"), config, self._country_table)
        self._country_header = config.country_header
        self._keep_records = config.keep_records
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self.recorder.run(self._stop))

    @hookimpl
    async def shutdown(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._task, _FINAL_FLUSH_SECONDS)
            self._task = None
        if self.recorder is not None:
            # post_response hooks have finished by now: their rows are in memory.
            try:
                await asyncio.wait_for(self.recorder.flush(), _FINAL_FLUSH_SECONDS)
            except Exception:
                logger.exception("analytics: the last write of aggregates failed")

    @hookimpl
    def tenant_deleted(self, tenant_id: str) -> None:
        # The core dropped the stored aggregates; this process must not write its buckets back.
        if self.recorder is not None:
            self.recorder.forget_tenant(tenant_id)

    @hookimpl
    def response_chunk(self, ctx: RequestContext, chunk: bytes) -> None:
        if chunk.find(b'"usage"') >= 0:  # per event: find(), as `in` builds and clears a TypeError on 3.11
            usage = openai_shapes.usage_in_events(chunk)
            if usage is not None:
                ctx.state[_STREAM_USAGE] = usage

    @hookimpl
    def post_response(self, ctx: RequestContext) -> None:
        # A plain ``def``: the core runs it inline after the answer, with no task per request.
        recorder = self.recorder
        if recorder is not None:
            header = None
            if self._country_header is not None and ctx.request.via_trusted_proxy:
                header = ctx.request.headers.get(self._country_header)
            recorder.add(row_of(ctx, ctx.state.get(_STREAM_USAGE), header, self._keep_records))

    async def _country_table(self) -> CountryOf:
        """The country lookup, its table loaded once, off the event loop (at the first flush
        with rows, when no saved chain used analytics at the start)."""
        if self._countries is None:
            if self._loading is None:
                self._loading = asyncio.ensure_future(asyncio.to_thread(_loaded_table, self._database))
            self._countries = await asyncio.shield(self._loading)
        return self._countries.country_of

    @hookimpl
    def admin_routes(self, services: GatewayServices) -> list[BaseRoute]:
        return analytics_routes(services)

    @hookimpl
    def portal_routes(self, services: GatewayServices) -> list[BaseRoute]:
        return analytics_portal_routes(services)

    @hookimpl
    def admin_openapi(self) -> dict[str, Any]:
        return analytics_openapi()

    @hookimpl
    def cli_commands(self, commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
        add_analytics_command(commands)

    def flush_now(self) -> "asyncio.Future[int]":
        """Write this process's buckets now (tests, and an operator's shell)."""
        recorder = self.recorder
        if recorder is None:
            raise GatewayError("analytics is not running on this gateway (its startup did not run)", status=503, code="analytics_unavailable")

        return asyncio.ensure_future(recorder.flush())
