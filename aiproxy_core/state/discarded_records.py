"""The ``none`` records sink: on Redis with no records server, nothing is kept (plugins keep
aggregates only, which Redis holds bounded); calls are still checked, so a plugin's mistakes show
on every deployment alike."""

from __future__ import annotations

from typing import Sequence

from .api import Record, Records, RecordSink
from .record_checks import checked_name, checked_page, checked_records

__all__ = ["DiscardedRecords"]


class DiscardedRecords(Records):
    """On Redis without a records server: nothing is kept (plugins keep aggregates only)."""

    sink: RecordSink = "none"

    def __init__(self, name: str) -> None:
        checked_name(name)

    async def write(self, records: Sequence[Record]) -> int:
        checked_records(records)
        return 0

    async def read(
        self, tenant_id: str, *, since: float | None = None, until: float | None = None, after: str | None = None, limit: int = 1000
    ) -> list[Record]:
        checked_page(tenant_id, limit, after)
        return []

    async def count(self, tenant_id: str) -> int:
        checked_page(tenant_id, 1, None)
        return 0
