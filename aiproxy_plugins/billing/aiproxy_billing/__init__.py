"""aiproxy billing: plans and pricing, metering through a queue into an idempotent ledger, usage reports.

The gateway finds the plugin through the ``aiproxy`` entry point ``billing``
(:mod:`aiproxy_billing.plugin`). To run several gateways in one Python process, register a fresh
:class:`Billing` in each, since a plugin object keeps its gateway's queue and ledger.
"""

from .events import BillingEvent
from .plans import PLAN_SPEC, Plan, PlanSpec
from .plugin import Billing
from .pricing import PeriodUsage, price_period
from .settings import BillingSettings

__version__ = "0.1.0"

__all__ = ["Billing", "BillingEvent", "BillingSettings", "PLAN_SPEC", "PeriodUsage", "Plan", "PlanSpec", "__version__", "price_period"]
