"""One gateway's billing state, all on the core's state API (``services.state("billing")``).

``aiproxy serve`` (the plugin's ``startup``) and the ``aiproxy billing-*`` commands both build it
from the same state, so they always find the same plans, queue, aggregates and records:

* plans: values ``plan:<id>`` (:mod:`.plan_store`, read through a 1 s cache: :mod:`.plan_cache`);
* the metering queue: the state queue ``events`` (:mod:`.metering_queue`);
* the ledger: per-consumer daily aggregates (values) counted once per request id, and the events
  as records (:mod:`.ledger`);
* invoices: values ``invoice:<consumer>:<period>`` (:mod:`.invoice_store`);
* exports: the target a value, deliveries the state queue ``exports`` (:mod:`.export`).

Free-plan quotas and prepaid credits are counters and balances of the same state (:mod:`.quota`,
:mod:`.credits`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiproxy_core.state import PluginState

from .export import StateExports
from .invoice_store import StateInvoices
from .ledger import Ledger
from .metering_queue import MeteringQueue
from .plan_cache import CachedPlans
from .plan_store import StatePlanStore
from .worker import Drain

__all__ = ["BillingBackend", "open_backend"]


@dataclass
class BillingBackend:
    plans: CachedPlans
    queue: MeteringQueue
    ledger: Ledger
    invoices: StateInvoices
    exports: StateExports

    def drain(self, *, batch_size: int = 200, claim_idle: float = 30.0) -> Drain:
        return Drain(self.queue.queue, self.ledger, batch_size=batch_size, claim_idle=claim_idle)


def open_backend(state: PluginState, *, remember: float = 600.0) -> BillingBackend:
    """Billing's state in ``state``; ``remember``: seconds the ledger remembers counted request ids."""
    exports = StateExports(state)
    return BillingBackend(
        CachedPlans(StatePlanStore(state)), MeteringQueue(state), Ledger(state, exports, remember=remember), StateInvoices(state), exports
    )
