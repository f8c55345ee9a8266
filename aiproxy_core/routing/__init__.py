"""Routing across a rule's targets: strategies, retries, failover, circuit breaking, provider
formats and cost (docs/routing.md)."""

from .cost import COST_ANNOTATION, RequestCost
from .formats import FormatBridge
from .health import HEALTH_NAMESPACE, TargetHealth
from .plan import RoutePlan
from .router import Router

__all__ = ["COST_ANNOTATION", "FormatBridge", "HEALTH_NAMESPACE", "RequestCost", "RoutePlan", "Router", "TargetHealth"]
