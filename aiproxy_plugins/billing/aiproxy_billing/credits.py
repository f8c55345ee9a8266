"""Prepaid credits: a consumer balance that admitted requests draw down and that never goes below zero.

Balances are integers of micro-units (1e-6 of the currency), so every step is exact. They are
balances of the core's state API (``services.state("billing").counters(tenant)``, name
``credits:<consumer id>``): a request reserves a fixed amount in ``pre_request`` (check and take in
one atomic step of the store, on any number of gateway processes), and ``post_response`` settles
that reservation once: what the request did not cost comes back, a price above the reservation is
taken down to zero (what is missing is the shortfall).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from aiproxy_core.state import PluginState, Reservation

__all__ = ["MAX_BALANCE_MICROS", "MICRO", "PrepaidCredits", "balance_name", "from_micros", "to_micros"]

MICRO = Decimal("0.000001")
#: 1e9 of the currency: below 2^53 micro-units, where the Redis backend's Lua numbers stay exact.
MAX_BALANCE_MICROS = 10**15


def to_micros(amount: Decimal) -> int:
    """An amount in micro-units, rounded half up (a price finer than a micro-unit)."""
    return int(amount.quantize(MICRO, rounding=ROUND_HALF_UP).scaleb(6))


def from_micros(micros: int) -> Decimal:
    """Micro-units as a Decimal with six places: ``10000000`` is ``Decimal("10.000000")``."""
    return Decimal(micros).scaleb(-6).quantize(MICRO)


def balance_name(consumer_id: str) -> str:
    """The state-API balance that holds a consumer's credits (per tenant, so the id alone names it)."""
    return "credits:" + consumer_id


class PrepaidCredits:
    """The consumers' balances of every tenant, on the gateway's state backend."""

    def __init__(self, state: PluginState) -> None:
        self._state = state

    async def balance(self, tenant_id: str, consumer_id: str) -> int:
        return await self._state.counters(tenant_id).balance(balance_name(consumer_id))

    async def top_up(self, tenant_id: str, consumer_id: str, micros: int) -> int | None:
        """The new balance, or None (nothing added) when it would pass :data:`MAX_BALANCE_MICROS`."""
        return await self._state.counters(tenant_id).credit(balance_name(consumer_id), micros, ceiling=MAX_BALANCE_MICROS)

    async def reserve(self, tenant_id: str, consumer_id: str, micros: int) -> Reservation | None:
        """Take ``micros`` from the balance, or None (nothing taken) when it holds less."""
        return await self._state.counters(tenant_id).reserve(balance_name(consumer_id), micros)

    async def settle(self, tenant_id: str, reservation: Reservation, price: int) -> int:
        """Charge ``price`` against ``reservation`` (settle each once: the store keeps no record of
        reservations, so a second settle would give it back twice); the shortfall, 0 when paid."""
        # A balance never passes MAX_BALANCE_MICROS, so the rest of a larger price is shortfall
        # anyway, and the amounts the store handles stay below 2^53.
        capped = min(price, MAX_BALANCE_MICROS)
        return await self._state.counters(tenant_id).settle(reservation, capped) + price - capped
