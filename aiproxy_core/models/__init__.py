"""The gateway's stored records and the shapes the Admin API accepts for them."""

from .api_key import ApiKey
from .chain_entry import STAGES, ChainEntry, Stage
from .consumer import Consumer, ConsumerCreate, ConsumerPatch
from .portal import PortalSettings
from .routing import CircuitBreakerPolicy, Condition, ConditionMatch, RetryPolicy, RoutingPolicy, RuleTarget
from .rule import Rule, RuleInput
from .tenant import Tenant, TenantCreate, TenantPatch

__all__ = [
    "ApiKey",
    "ChainEntry",
    "CircuitBreakerPolicy",
    "Condition",
    "ConditionMatch",
    "Consumer",
    "ConsumerCreate",
    "ConsumerPatch",
    "PortalSettings",
    "RetryPolicy",
    "RoutingPolicy",
    "Rule",
    "RuleInput",
    "RuleTarget",
    "STAGES",
    "Stage",
    "Tenant",
    "TenantCreate",
    "TenantPatch",
]
