"""One gateway's billing state, on Redis or embedded: plans, queue, ledger, invoices, exports, worker drain.

``aiproxy serve`` (the plugin's ``startup``) and ``aiproxy billing-worker`` both build it from the
gateway config, so they always find the same stream, outbox and ledger. Free-plan quotas and
prepaid credits are not here: they are counters and balances of the core's state API, which the
plugin gets from ``services.state("billing")`` (:mod:`.quota`, :mod:`.credits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .events import BillingEvent
from .export import ExportStore, RedisExports, SqliteExports
from .invoice_store import InvoiceStore, RedisInvoices, SqliteInvoices
from .ledger_redis import RedisLedger
from .ledger_sqlite import SqliteLedger
from .plan_cache import CachedPlans
from .plan_store import RedisPlanStore, SqlitePlanStore
from .pricing import PeriodUsage
from .redis_queue import RedisEventQueue
from .sqlite_db import BillingDatabase
from .sqlite_queue import SqliteOutbox
from .worker import Drain, RedisDrain, SqliteDrain

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["BillingBackend", "EventQueue", "LedgerReader", "open_backend"]


class EventQueue(Protocol):
    async def put(self, event: BillingEvent) -> None: ...
    async def backlog(self) -> dict[str, Any]:
        """What waits for a worker; ``events_waiting`` (or ``entries_waiting``) is 0 when it keeps up."""
        ...


class LedgerReader(Protocol):
    async def count(self, tenant_id: str) -> int: ...
    async def days(self, tenant_id: str, consumer: str, days: list[date]) -> tuple[dict[str, PeriodUsage], str | None]: ...


@dataclass
class BillingBackend:
    plans: CachedPlans
    queue: EventQueue
    ledger: LedgerReader
    invoices: InvoiceStore
    database: BillingDatabase | None = None
    #: Export targets per tenant and the export queue (see :mod:`.export`).
    exports: ExportStore | None = None

    def drain(self, *, batch_size: int = 200, claim_idle_ms: int = 30_000) -> Drain:
        if isinstance(self.ledger, SqliteLedger):
            return SqliteDrain(self.ledger, batch_size)
        assert isinstance(self.queue, RedisEventQueue) and isinstance(self.ledger, RedisLedger)
        return RedisDrain(self.queue, self.ledger, batch_size=batch_size, claim_idle_ms=claim_idle_ms)

    def close(self) -> None:
        if self.database is not None:
            self.database.close()


def open_backend(redis: "Redis | None", prefix: str | None, data_dir: Path) -> BillingBackend:
    """Billing state on Redis (``redis`` and ``prefix`` given) or in SQLite files under ``data_dir``."""
    if redis is not None and prefix is not None:
        return BillingBackend(
            CachedPlans(RedisPlanStore(redis, prefix)), RedisEventQueue(redis, prefix), RedisLedger(redis, prefix),
            RedisInvoices(redis, prefix), exports=RedisExports(redis, prefix),
        )
    database = BillingDatabase.in_directory(data_dir)
    return BillingBackend(
        CachedPlans(SqlitePlanStore(database)), SqliteOutbox(database), SqliteLedger(database),
        SqliteInvoices(database), database, exports=SqliteExports(database),
    )
