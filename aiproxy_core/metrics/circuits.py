"""``aiproxy_target_circuit_state``: each routed target's circuit, as every process shares it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..routing import RoutePlan
from .readings import MetricReading

if TYPE_CHECKING:
    from ..routing import TargetHealth
    from ..store import Store

__all__ = ["CIRCUIT_VALUES", "MAX_CIRCUITS", "circuit_readings"]

#: The gauge's value for each state (a number, so it can be graphed and alerted on: ``== 1``).
CIRCUIT_VALUES = {"closed": 0.0, "open": 1.0, "half_open": 2.0}
#: A scrape reads at most this many targets' circuits (each is a store read or two).
MAX_CIRCUITS = 2000

_HELP = "Circuit breaker state of a rule's target across the gateway's processes: 0 closed, 1 open, 2 half-open."


async def circuit_readings(store: Store, health: TargetHealth) -> list[MetricReading]:
    """Targets of rules with a ``routing.circuit_breaker`` (others have no circuit to report)."""
    readings: list[MetricReading] = []
    for tenant in await store.list_tenants():
        for rule in await store.list_rules(tenant.id):
            if rule.routing is None:
                continue
            plan = RoutePlan(rule)
            if plan.circuit is None:
                continue
            for target in plan.targets:
                if len(readings) >= MAX_CIRCUITS:
                    return readings
                described = await health.describe(tenant.id, target.health_key, plan.circuit)
                labels = {"tenant": tenant.id, "rule": rule.id, "target": target.label}
                readings.append(MetricReading("aiproxy_target_circuit_state", _HELP, CIRCUIT_VALUES[described["circuit"]], labels))
    return readings
