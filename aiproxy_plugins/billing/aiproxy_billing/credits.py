"""Prepaid credits: a consumer balance that admitted requests draw down and that never goes below zero.

Balances are integers of micro-units (1e-6 of the currency), so every step is exact. Each request
reserves a fixed amount in ``pre_request`` (check-and-decrement in one Lua call on Redis, one
``BEGIN IMMEDIATE`` transaction embedded), and ``post_response`` settles it: the reservation comes
back and the real price is charged, stopping at zero (what is missing is the shortfall).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import TYPE_CHECKING, Protocol

from aiproxy_core import ScriptConnection, delete_matching

from .sqlite_db import BillingDatabase, transaction

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "CreditStore",
    "MAX_BALANCE_MICROS",
    "MICRO",
    "RedisCredits",
    "Settlement",
    "SqliteCredits",
    "from_micros",
    "to_micros",
]

MICRO = Decimal("0.000001")
#: 1e9 of the currency: below 2^53 micro-units, so Lua's double arithmetic stays exact.
MAX_BALANCE_MICROS = 10**15

RESERVE_SCRIPT = resources.files(__package__).joinpath("credits_reserve.lua").read_text()
SETTLE_SCRIPT = resources.files(__package__).joinpath("credits_settle.lua").read_text()
TOP_UP_SCRIPT = resources.files(__package__).joinpath("credits_top_up.lua").read_text()


def to_micros(amount: Decimal) -> int:
    """An amount in micro-units, rounded half up (a price finer than a micro-unit)."""
    return int(amount.quantize(MICRO, rounding=ROUND_HALF_UP).scaleb(6))


def from_micros(micros: int) -> Decimal:
    """Micro-units as a Decimal with six places: ``10000000`` is ``Decimal("10.000000")``."""
    return Decimal(micros).scaleb(-6).quantize(MICRO)


@dataclass(frozen=True, slots=True)
class Settlement:
    balance: int
    #: What the balance could not pay (micro-units); 0 when it paid in full.
    shortfall: int


class CreditStore(Protocol):
    async def balance(self, tenant_id: str, consumer: str) -> int: ...

    async def top_up(self, tenant_id: str, consumer: str, micros: int) -> int | None:
        """The new balance, or None (nothing added) when it would pass :data:`MAX_BALANCE_MICROS`."""
        ...

    async def reserve(self, tenant_id: str, consumer: str, micros: int) -> bool:
        """Take ``micros`` from the balance and return True, or return False (taking nothing) when it is lower."""
        ...

    async def settle(self, tenant_id: str, consumer: str, reserved: int, price: int) -> Settlement:
        """Give back ``reserved`` and charge ``price``, never below zero."""
        ...

    async def delete_tenant(self, tenant_id: str) -> None:
        """Remove every balance of the tenant's consumers (the tenant was deleted)."""
        ...


class RedisCredits:
    """Balances as Redis integers, changed only by Lua scripts (atomic check-and-decrement).

    ``reserve`` and ``settle`` run on every prepaid request: they go over the gateway's lean
    script connection (:class:`aiproxy_core.ScriptConnection`), not redis-py.
    """

    def __init__(self, redis: "Redis", scripts: ScriptConnection, prefix: str) -> None:
        self._redis = redis
        self._scripts = scripts
        self._prefix = prefix

    def _key(self, tenant_id: str, consumer: str) -> str:
        return f"{self._prefix}:billing:credits:{tenant_id}:{consumer}"

    async def balance(self, tenant_id: str, consumer: str) -> int:
        return int(await self._redis.get(self._key(tenant_id, consumer)) or 0)

    async def top_up(self, tenant_id: str, consumer: str, micros: int) -> int | None:
        new = int(await self._scripts.evalsha(TOP_UP_SCRIPT, [self._key(tenant_id, consumer)], [micros, MAX_BALANCE_MICROS]))
        return None if new < 0 else new

    async def reserve(self, tenant_id: str, consumer: str, micros: int) -> bool:
        return int(await self._scripts.evalsha(RESERVE_SCRIPT, [self._key(tenant_id, consumer)], [micros])) >= 0

    async def settle(self, tenant_id: str, consumer: str, reserved: int, price: int) -> Settlement:
        # A balance never passes MAX_BALANCE_MICROS: the rest of a larger price is shortfall anyway,
        # and the script's Lua numbers stay exact.
        capped = min(price, MAX_BALANCE_MICROS)
        balance, shortfall = await self._scripts.evalsha(SETTLE_SCRIPT, [self._key(tenant_id, consumer)], [reserved, capped])
        return Settlement(int(balance), int(shortfall) + price - capped)

    async def delete_tenant(self, tenant_id: str) -> None:
        await delete_matching(self._redis, self._key(tenant_id, "*"))


class SqliteCredits:
    def __init__(self, database: BillingDatabase) -> None:
        self._db = database

    async def balance(self, tenant_id: str, consumer: str) -> int:
        return await self._db.run(lambda c: _balance(c, tenant_id, consumer))

    async def top_up(self, tenant_id: str, consumer: str, micros: int) -> int | None:
        def add(c: sqlite3.Connection) -> int | None:
            new = _balance(c, tenant_id, consumer) + micros
            if new > MAX_BALANCE_MICROS:
                return None
            _store(c, tenant_id, consumer, new)
            return new

        return await self._db.run(lambda c: transaction(c, add))

    async def reserve(self, tenant_id: str, consumer: str, micros: int) -> bool:
        def take(c: sqlite3.Connection) -> bool:
            balance = _balance(c, tenant_id, consumer)
            if balance < micros:
                return False
            _store(c, tenant_id, consumer, balance - micros)
            return True

        return self._db.run_now(lambda c: transaction(c, take))  # request path: see BillingDatabase.run_now

    async def settle(self, tenant_id: str, consumer: str, reserved: int, price: int) -> Settlement:
        def settle(c: sqlite3.Connection) -> Settlement:
            available = _balance(c, tenant_id, consumer) + reserved
            charged = min(price, available)
            _store(c, tenant_id, consumer, available - charged)
            return Settlement(available - charged, price - charged)

        return self._db.run_now(lambda c: transaction(c, settle))

    async def delete_tenant(self, tenant_id: str) -> None:
        await self._db.run(lambda c: c.execute("DELETE FROM credits WHERE tenant_id = ?", (tenant_id,)))


def _balance(c: sqlite3.Connection, tenant_id: str, consumer: str) -> int:
    row = c.execute("SELECT balance FROM credits WHERE tenant_id = ? AND consumer = ?", (tenant_id, consumer)).fetchone()
    return int(row[0]) if row else 0


def _store(c: sqlite3.Connection, tenant_id: str, consumer: str, balance: int) -> None:
    c.execute(
        "INSERT INTO credits (tenant_id, consumer, balance) VALUES (?, ?, ?)"
        " ON CONFLICT (tenant_id, consumer) DO UPDATE SET balance = excluded.balance",
        (tenant_id, consumer, balance),
    )
