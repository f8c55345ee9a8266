"""The gateway's stored records and the shapes the Admin API accepts for them."""

from .api_key import ApiKey
from .chain_entry import STAGES, ChainEntry, Stage
from .consumer import Consumer, ConsumerCreate, ConsumerPatch
from .rule import Rule, RuleInput
from .tenant import Tenant, TenantCreate, TenantPatch

__all__ = [
    "ApiKey",
    "ChainEntry",
    "Consumer",
    "ConsumerCreate",
    "ConsumerPatch",
    "Rule",
    "RuleInput",
    "STAGES",
    "Stage",
    "Tenant",
    "TenantCreate",
    "TenantPatch",
]
