"""A rule's routing, compiled once per config version: its targets, and the order a request tries
them in under the rule's strategy, with the targets whose circuit is open left out."""

from __future__ import annotations

import random
import re
from fnmatch import translate
from typing import TYPE_CHECKING, Callable, Sequence

from ..errors import GatewayError
from ..models import Rule
from ..models.routing import CircuitBreakerPolicy, Condition, RetryPolicy, RoutingPolicy
from .failures import RetryRules
from .health import HealthView, TargetHealth
from .route_targets import RouteTarget, route_targets

if TYPE_CHECKING:
    from ..context import RequestContext

__all__ = ["RoutePlan"]



class _CompiledCondition:
    __slots__ = ("models", "headers", "plans", "metadata", "targets")

    def __init__(self, condition: Condition, targets: tuple[RouteTarget, ...]) -> None:
        match = condition.match
        self.models = _glob(match.model)
        self.headers = {name.lower(): _listed(value) for name, value in (match.headers or {}).items()}
        self.plans = _listed(match.plan) if match.plan is not None else None
        self.metadata = {key: value if isinstance(value, list) else [value] for key, value in (match.metadata or {}).items()}
        self.targets = _resolve(condition.targets, targets)

    def matches(self, ctx: RequestContext) -> bool:
        if self.models is not None:
            try:
                body = ctx.request.json if ctx.request.body else None
            except GatewayError:  # not JSON: no model to match
                body = None
            model = body.get("model") if isinstance(body, dict) else None
            if not isinstance(model, str) or not self.models.fullmatch(model):
                return False
        if self.headers:
            headers = ctx.request.headers
            for name, allowed in self.headers.items():
                if headers.get(name) not in allowed:
                    return False
        consumer = ctx.consumer
        if self.plans is not None and (consumer is None or consumer.plan_id not in self.plans):
            return False
        if self.metadata:
            if consumer is None:
                return False
            for key, allowed in self.metadata.items():
                if key not in consumer.metadata or consumer.metadata[key] not in allowed:
                    return False
        return True


def _listed(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def _glob(value: str | list[str] | None) -> re.Pattern[str] | None:
    if value is None:
        return None
    return re.compile("|".join(f"(?:{translate(pattern)})" for pattern in _listed(value)))


def _resolve(refs: Sequence[int | str], targets: tuple[RouteTarget, ...]) -> tuple[RouteTarget, ...]:
    by_label = {t.label: t for t in targets}
    return tuple(targets[ref] if isinstance(ref, int) else by_label[ref] for ref in refs)


def _fallback_order(targets: Sequence[RouteTarget]) -> tuple[RouteTarget, ...]:
    return tuple(sorted(targets, key=lambda t: (t.priority, t.index)))


class RoutePlan:
    """How one rule's requests reach its targets."""

    def __init__(self, rule: Rule) -> None:
        self.rule_id = rule.id
        self.targets = route_targets(rule)
        # ``targets`` without ``routing`` get the default policy (fallback, 2 retries); only the
        # ``target`` shorthand without ``routing`` keeps the one attempt it always had.
        policy = rule.routing if rule.routing is not None or rule.targets is None else RoutingPolicy()
        #: None: a ``target`` rule without ``routing``: one attempt, no circuit, the upstream's answer as it is.
        self.policy: RoutingPolicy | None = policy
        self.retry: RetryPolicy | None = policy.retries if policy is not None else None
        self.retry_rules = RetryRules(policy.retries.retry_on) if policy is not None else None
        self.max_attempts = 1 + (policy.retries.attempts if policy is not None else 0)
        self.circuit: CircuitBreakerPolicy | None = policy.circuit_breaker if policy is not None else None
        self.ttft_timeout = policy.ttft_timeout if policy is not None else None
        strategy = policy.strategy if policy is not None else "single"
        self.strategy = strategy
        self.fallback = _fallback_order(self.targets)
        self.groups = _priority_groups(self.fallback)
        self.conditions = [_CompiledCondition(c, self.targets) for c in policy.conditions] if policy is not None else []
        default = policy.default if policy is not None else None
        self.default = _fallback_order(_resolve(default, self.targets)) if default else self.fallback
        self._order: Callable[[RequestContext, TargetHealth, str], Sequence[RouteTarget]] = getattr(self, f"_{strategy}")
        #: A one-target rule's path needs no ordering and no health view (the common case).
        self.plain = policy is None and len(self.targets) == 1
        #: Whether any target changes the request body (a model to map, a format to translate).
        self.rewrites = any(t.model or t.provider == "anthropic" or (t.provider and rule.client_format == "anthropic") for t in self.targets)

    def candidates(self, ctx: RequestContext, health: TargetHealth) -> list[RouteTarget]:
        """The targets this request may try, in order (a fresh list: the router drops those whose
        circuit it finds open, looking at each target's health only when it comes to it)."""
        return list(self._order(ctx, health, ctx.tenant.id))

    def _single(self, ctx: RequestContext, health: TargetHealth, tenant_id: str) -> Sequence[RouteTarget]:
        return self.targets[:1]

    def _fallback(self, ctx: RequestContext, health: TargetHealth, tenant_id: str) -> Sequence[RouteTarget]:
        return self.fallback

    def _conditional(self, ctx: RequestContext, health: TargetHealth, tenant_id: str) -> Sequence[RouteTarget]:
        for condition in self.conditions:
            if condition.matches(ctx):
                return condition.targets
        return self.default

    def _loadbalance(self, ctx: RequestContext, health: TargetHealth, tenant_id: str) -> Sequence[RouteTarget]:
        ordered: list[RouteTarget] = []
        for group in self.groups:
            ordered.extend(_weighted_order(group) if len(group) > 1 else group)
        return ordered

    def _lowest_latency(self, ctx: RequestContext, health: TargetHealth, tenant_id: str) -> Sequence[RouteTarget]:
        ordered: list[RouteTarget] = []
        for group in self.groups:
            ordered.extend(sorted(group, key=lambda t: _latency_score(health.peek(t.health_key))))
        return ordered


def _priority_groups(ordered: tuple[RouteTarget, ...]) -> list[tuple[RouteTarget, ...]]:
    groups: dict[int, list[RouteTarget]] = {}
    for target in ordered:
        groups.setdefault(target.priority, []).append(target)
    return [tuple(group) for _, group in sorted(groups.items())]


def _weighted_order(group: Sequence[RouteTarget]) -> list[RouteTarget]:
    """The group in a random order where each place is drawn by weight among those left (the
    first pick is each target's weight share; the rest are the fallbacks)."""
    left = list(group)
    ordered = []
    while len(left) > 1:
        pick = random.random() * sum(t.weight for t in left)
        for position, target in enumerate(left):
            pick -= target.weight
            if pick < 0:
                break
        ordered.append(left.pop(position))
    ordered.extend(left)
    return ordered


def _latency_score(view: HealthView | None) -> float:
    """Unmeasured targets first (so each gets measured), then the lowest recent average."""
    if view is None:
        return 0.0
    if view.recent_ms is not None:
        return view.recent_ms if view.average_ms is None else (view.recent_ms + view.average_ms) / 2
    return view.average_ms if view.average_ms is not None else 0.0

