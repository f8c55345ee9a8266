"""From a request's Host and path to its tenant, rule and compiled chain, cached per process.

A tenant's view (its rules, longest path first, each with its compiled chain) is built on first
use and dropped on any change event, so the request path does no store reads, no sorting and no
settings parsing in the steady state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..chain import ChainCompileError, CompiledChain, compile_rule_chain
from ..errors import MethodNotAllowed, NotFound, PluginFailed
from ..models import Rule, Tenant
from ..plugins import PluginRegistry
from ..single_flight import SingleFlight
from ..store import ChangeEvent, Store
from ..routing.plan import RoutePlan
from .target import UpstreamTarget


@dataclass(frozen=True, slots=True)
class Route:
    rule: Rule
    prefix: str
    methods: frozenset[str] | None
    chain: CompiledChain | None
    chain_error: ChainCompileError | None = None
    #: The rule's targets and how requests spread over them, compiled once.
    plan: RoutePlan = field(default=None)  # type: ignore[assignment]
    #: The first target, split once for the per-request join (``ctx.upstream_url``).
    target: UpstreamTarget = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.plan is None:
            object.__setattr__(self, "plan", RoutePlan(self.rule))
        if self.target is None:
            object.__setattr__(self, "target", self.plan.targets[0].joiner)

    def matches(self, path: str) -> bool:
        prefix = self.prefix
        return prefix == "/" or path == prefix or path.startswith(prefix + "/")

    def checked_chain(self) -> CompiledChain:
        if self.chain_error is not None:
            raise PluginFailed(
                f"this route's plugin chain cannot run: {self.chain_error}",
                code="plugin_unavailable",
                details=[{"plugin": self.chain_error.plugin}],
            )
        assert self.chain is not None
        return self.chain


@dataclass(frozen=True, slots=True)
class TenantView:
    tenant: Tenant
    routes: tuple[Route, ...] = field(default=())

    def match(self, path: str, method: str) -> Route:
        """Longest matching prefix; 405 when paths match but none allows the method."""
        allowed: set[str] = set()
        for route in self.routes:
            if route.matches(path):
                if route.methods is None or method in route.methods:
                    return route
                # A longer prefix refused the method; a shorter one may still accept it.
                allowed |= route.methods
        if allowed:
            raise MethodNotAllowed(
                f"{method} is not allowed on {path}; allowed: {', '.join(sorted(allowed))}",
                headers={"allow": ", ".join(sorted(allowed))},
            )
        raise NotFound(f"no forwarding rule of this tenant matches {path}", code="route_not_found")


def host_name(host: str | None) -> str:
    """The name a Host header gives, as tenants are looked up by it: lowercase, without port or
    the root's trailing dot (``demo.example.com.`` is ``demo.example.com``, RFC 1034); ``""`` for
    none or an IP literal in brackets."""
    if not host or host.startswith("["):
        return ""
    return host.rsplit(":", 1)[0].lower().rstrip(".")


class TenantDirectory:
    def __init__(self, store: Store, registry: PluginRegistry, base_domain: str) -> None:
        self._store = store
        self._registry = registry
        self._suffix = "." + base_domain.lower().strip(".")
        self._views: dict[str, TenantView | None] = {}
        self._loads: SingleFlight[str, TenantView | None] = SingleFlight()
        store.subscribe(self.on_change)

    def on_change(self, event: ChangeEvent) -> None:
        if event.kind != "key":
            self._views.clear()
            self._loads.forget()

    def subdomain_of(self, host: str | None) -> str | None:
        name = host_name(host)
        if name.endswith(self._suffix):
            sub = name[: -len(self._suffix)]
            return sub if sub and "." not in sub else None
        return None

    async def resolve(self, host: str | None) -> TenantView:
        subdomain = self.subdomain_of(host)
        if subdomain is None:
            raise NotFound(
                f"no tenant for host {host!r}: call <subdomain>{self._suffix} (the tenant's subdomain)",
                code="tenant_not_found",
            )
        if subdomain in self._views:
            view = self._views[subdomain]
        else:
            view = await self._load_once(subdomain)
        if view is None:
            raise NotFound(f"no tenant has the subdomain {subdomain!r}", code="tenant_not_found")
        return view

    async def _load_once(self, subdomain: str) -> TenantView | None:
        view, current = await self._loads.load_current(subdomain, lambda: self._load(subdomain))
        if current:  # not cached if a change event came in meanwhile
            self._views[subdomain] = view
        return view

    async def _load(self, subdomain: str) -> TenantView | None:
        tenant = await self._store.get_tenant_by_subdomain(subdomain)
        if tenant is None:
            return None
        rules = await self._store.list_rules(tenant.id)
        routes = []
        for rule in sorted(rules, key=lambda r: len(r.path), reverse=True):
            methods = frozenset(rule.methods) if rule.methods is not None else None
            try:
                routes.append(Route(rule, rule.path, methods, compile_rule_chain(tenant, rule, self._registry)))
            except ChainCompileError as exc:
                routes.append(Route(rule, rule.path, methods, None, exc))
        return TenantView(tenant, tuple(routes))


