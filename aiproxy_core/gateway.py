"""One gateway process: config, store, plugins, caches, upstream client and both ASGI apps."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Coroutine

from starlette.types import Receive, Send

from .auth import ConsumerDirectory, KeyAuthenticator
from .config import GatewayConfig
from .errors import PluginLoadError
from .plugins import PluginRegistry
from .plugins.config_sections import plugin_configs
from .plugins.hook_calls import call_and_await
from .metrics import GatewayMetrics
from .proxy.access_log import AccessLog
from .proxy.app import ProxyApp
from .routing import HEALTH_NAMESPACE, FormatBridge, RequestCost, Router, TargetHealth
from .proxy.routing import TenantDirectory
from .redis_scripts import ScriptConnection
from .services import GatewayServices
from .state import StateService
from .state.service import data_directory
from .store import Store
from .store.opening import store_for
from .tracing import tracing_for
from .upstream import Http1UpstreamClient, TargetPolicy, UpstreamClient

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger("aiproxy")

#: How long shutdown waits for post_response hooks still running.
BACKGROUND_DRAIN_SECONDS = 10.0


def gateway_version() -> str:
    """The installed aiproxy-core's version (``0+unknown`` when run from files not installed)."""
    try:
        return importlib.metadata.version("aiproxy-core")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def deployment_id(config: GatewayConfig) -> str:
    """``aiproxy-`` and 12 hex characters naming the shared state this gateway serves.

    Every process on one Redis (prefix) or one SQLite file gets the same name, so a request that
    a rule sends back into any of them is recognised by the ``Via`` entry it already carries,
    while a second, separate aiproxy deployment placed in front of this one is not mistaken for
    a loop.
    """
    redis = config.redis
    if redis is not None:
        where = f"redis://{redis.host}:{redis.port}/{redis.db}/{redis.prefix}"
    else:
        where = "sqlite:" + str(Path(config.storage.path).resolve())
    return "aiproxy-" + hashlib.sha256(where.encode()).hexdigest()[:12]


class Gateway:
    """Wires the parts together. ``proxy_app`` and ``admin_app`` are ASGI apps sharing its state.

    Call :meth:`start` before serving and :meth:`stop` after (``aiproxy serve`` and the SDK
    harness do); an ASGI server's lifespan events do the same through :meth:`serve_lifespan`.
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        registry: PluginRegistry | None = None,
        store: Store | None = None,
        upstream: UpstreamClient | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        """``tracer_provider``: an OpenTelemetry SDK provider to trace with instead of the one
        ``tracing.enabled`` builds from the ``OTEL_*`` variables (tests use one with an in-memory
        exporter); given, tracing is on, and the gateway only flushes it on stop, never shuts it down."""
        self.config = config
        if registry is None:
            registry = PluginRegistry()
            registry.load_entry_points()
        self.registry = registry
        #: Each plugin's validated ``plugins.<name>`` section (raises ConfigError before anything opens).
        self.plugin_configs = plugin_configs(registry, config.plugins)
        #: OpenTelemetry tracing, or None when off (ConfigError here when on without its packages).
        self.tracing = tracing_for(config.tracing, tracer_provider)
        self.store = store if store is not None else store_for(config)
        #: Where rule targets may point (checked at save and at every connect); built once.
        self.target_policy = TargetPolicy.from_config(config)
        self.upstream: UpstreamClient = upstream if upstream is not None else Http1UpstreamClient(config.upstream, self.target_policy)
        redis = config.redis
        # The request-path script connection talks to one server; on a cluster the state API
        # sends its scripts through the cluster client, which routes each by its tenant's slot.
        on_one_server = redis is not None and not redis.cluster
        scripts = ScriptConnection(redis.host, redis.port, redis.password or None, redis.db) if redis is not None and on_one_server else None
        self.state = StateService.for_config(config, self.store.redis, scripts)
        self.services = GatewayServices(
            config=config, store=self.store, data_dir=data_directory(config), scripts=scripts, state_service=self.state
        )
        self.auth = KeyAuthenticator(self.store)
        self.consumers = ConsumerDirectory(self.store)
        self.tenants = TenantDirectory(self.store, registry, config.server.base_domain)
        #: This deployment's name in ``Via`` (see :func:`deployment_id`).
        self.gateway_id = config.server.gateway_id or deployment_id(config)
        #: Each target's health (circuits, latency), shared through the state API; refreshed
        #: in the background.
        self.target_health = TargetHealth(self.state.for_plugin(HEALTH_NAMESPACE), self.in_background)
        cost = RequestCost()
        self.router = Router(self.upstream, self.target_health, FormatBridge(cost))
        #: ``GET /metrics``'s figures, counted by the Proxy API; None when ``metrics.enabled`` is off.
        self.metrics = GatewayMetrics(config.metrics, cost, gateway_version()) if config.metrics.enabled else None
        self.proxy_app = ProxyApp(
            server=config.server,
            gateway_id=self.gateway_id,
            tenants=self.tenants,
            auth=self.auth,
            consumers=self.consumers,
            upstream=self.upstream,
            router=self.router,
            services=self.services,
            in_background=self.in_background,
            lifespan=self.serve_lifespan,
            metrics=self.metrics.requests if self.metrics is not None else None,
            access_log=AccessLog() if config.logging.access_log and config.logging.access_log_format == "json" else None,
            tracing=self.tracing,
        )
        from .admin.app import build_admin_app  # the admin app imports plugin routes, built last
        from .tenant_pages import TenantPages

        self.proxy_app.tenant_pages = TenantPages(self)

        self.admin_app = build_admin_app(self)
        self._background: set[asyncio.Task[Any]] = set()
        self._started = False

    async def start(self) -> None:
        if self._started:
            return
        await self.store.open()
        self.state.open()
        await self.state.start()
        await self.upstream.start()
        await self._call_registration_hook("startup")
        if self.metrics is not None:
            self.metrics.start()
        self._started = True
        logger.info("gateway started; state in %s; kept records (ledgers) in %s", self.store.description, _sink_description(self.state.record_sink))

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.drain_background()
        if self.metrics is not None:
            await self.metrics.stop()
        await self._call_registration_hook("shutdown")
        if self.services.scripts is not None:
            await self.services.scripts.close()
        await self.upstream.close()
        await self.state.stop()
        self.state.close()
        await self.store.close()
        if self.tracing is not None:  # last: post_response spans of the drained work are in
            await self.tracing.shutdown()

    async def drain_background(self, timeout: float = BACKGROUND_DRAIN_SECONDS) -> None:
        """Wait until the post_response work started so far has finished (tests, shutdown)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout)

    def in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` after the response, keeping a reference so it is not garbage-collected."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def tenant_deleted(self, tenant_id: str) -> None:
        """Drop the tenant's state-API data of every plugin, then tell the plugins (``tenant_deleted``)
        so they drop what else they keep."""
        try:
            await self.state.drop_tenant(tenant_id)
        except Exception:  # like a failing plugin: logged, and the delete stands
            logger.exception("dropping the state of deleted tenant %s failed", tenant_id)
        await self._call_registration_hook("tenant_deleted", tenant_id=tenant_id)

    async def _call_registration_hook(self, hook: str, **arguments: Any) -> None:
        caller = getattr(self.registry.manager.hook, hook)
        for impl in reversed(caller.get_hookimpls()):  # pluggy keeps registration order reversed
            try:
                await call_and_await(impl, {"services": self.services, "config": self.plugin_configs.get(impl.plugin_name), **arguments})
            except Exception as exc:
                if hook == "startup" and self._on_cluster:
                    await self._set_aside_on_cluster(impl.plugin_name, exc)
                    continue
                if hook == "startup":
                    raise PluginLoadError(impl.plugin_name, f"startup failed: {type(exc).__name__}: {exc}") from exc
                logger.exception("plugin %r failed in %s", impl.plugin_name, hook)

    @property
    def _on_cluster(self) -> bool:
        return self.config.redis is not None and self.config.redis.cluster

    async def _set_aside_on_cluster(self, plugin: str, exc: Exception) -> None:
        """A plugin whose startup fails on a Redis Cluster (most often: it needs ``services.redis``
        or ``services.scripts``, which a cluster gateway does not offer) must not serve requests
        with half its state. Named in a saved chain, the gateway refuses to start; otherwise the
        plugin is unloaded, listed as failed with the reason, and a chain naming it is refused."""
        reason = f"cannot run on a Redis Cluster: its startup failed ({type(exc).__name__}: {exc})"
        if await self.services.chain_entries(plugin):
            raise PluginLoadError(
                plugin,
                f"{reason}; it is in a saved chain, so the gateway does not start: remove it from the chains"
                " or run the gateway on a single Redis server",
            ) from exc
        logger.warning("plugin %r is not loaded: %s", plugin, reason)
        self.registry.manager.unregister(name=plugin)
        self.registry.versions.pop(plugin, None)
        self.registry.failed[plugin] = reason

    async def serve_lifespan(self, receive: Receive, send: Send) -> None:
        """ASGI lifespan for running one app alone under any ASGI server."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _sink_description(sink: str) -> str:
    return {
        "postgresql": "PostgreSQL (records.postgresql)",
        "sqlite": "the state file (state.db)",
        "none": "nowhere: on Redis without records.postgresql only aggregates are kept",
    }[sink]
