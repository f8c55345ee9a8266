"""Closed invoices as values of the core's state API: ``invoice:<consumer>:<period>``.

A record is ``{"invoice": {...}, "billed_amount": "...", "billed_requests": n}``: the invoice as it
was closed, and what has been billed for its period so far (its own charges at close time, plus
any adjustment the next invoice carried when that one was closed). ``create`` is set-if-absent,
so of two concurrent closes of one period exactly one wins.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiproxy_core.state import PluginState

__all__ = ["InvoiceStore", "StateInvoices"]


class InvoiceStore(Protocol):
    async def get(self, tenant_id: str, consumer: str, period: str) -> dict[str, Any] | None: ...
    async def create(self, tenant_id: str, consumer: str, period: str, record: dict[str, Any]) -> bool: ...
    async def replace(self, tenant_id: str, consumer: str, period: str, record: dict[str, Any]) -> None: ...


def _key(consumer: str, period: str) -> str:
    return f"invoice:{consumer}:{period}"


class StateInvoices:
    def __init__(self, state: PluginState) -> None:
        self._state = state

    async def get(self, tenant_id: str, consumer: str, period: str) -> dict[str, Any] | None:
        record: dict[str, Any] | None = await self._state.values(tenant_id).get(_key(consumer, period))
        return record

    async def create(self, tenant_id: str, consumer: str, period: str, record: dict[str, Any]) -> bool:
        return await self._state.values(tenant_id).set_if_absent(_key(consumer, period), record)

    async def replace(self, tenant_id: str, consumer: str, period: str, record: dict[str, Any]) -> None:
        await self._state.values(tenant_id).set(_key(consumer, period), record)
