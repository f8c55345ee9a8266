"""``aiproxy billing-move-credits``: move prepaid balances from where billing kept them before the
state API (Redis ``{prefix}:billing:credits:{tenant}:{consumer}``, or the ``credits`` table of
``billing.db``) into the state API's balances, once, after an upgrade.

Run it with every gateway of the deployment stopped (a request on an old gateway would keep
drawing from the old balance). Each old balance is credited to the consumer's new balance and
then deleted, one consumer at a time. A consumer whose new balance is not zero is left alone
(its old balance is kept and listed): it was topped up since the upgrade, or an interrupted run
already moved it, and only the operator can tell which; adding it twice would give away money.
So running the command again never moves a balance twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sqlite3
from typing import TYPE_CHECKING, Any, AsyncIterator

from aiproxy_core import GatewayConfig, load_config
from aiproxy_core.state import StateService

from .cli import data_dir_of
from .credits import MAX_BALANCE_MICROS, PrepaidCredits, from_micros
from .money import money_text
from .sqlite_db import FILE_NAME

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["add_upgrade_command", "move_old_balances"]


def add_upgrade_command(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    move = commands.add_parser(
        "billing-move-credits", help="move prepaid balances of an older billing into the state API (once, gateways stopped)"
    )
    move.add_argument("--config", metavar="FILE", help="the gateway's config file (as for aiproxy serve)")
    move.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    report = asyncio.run(move_old_balances(load_config(args.config)))
    print(json.dumps(report, indent=2))
    return 1 if report["kept"] else 0  # a kept balance needs the operator's decision


async def move_old_balances(config: GatewayConfig) -> dict[str, Any]:
    """Move every old balance that can be moved; ``{"moved": [...], "kept": [...]}`` (amounts as money)."""
    moved: list[dict[str, str]] = []
    kept: list[dict[str, str]] = []
    redis = _redis(config)
    service = StateService(data_dir_of(config), redis=redis, prefix=config.redis.prefix if config.redis else "aiproxy")
    service.open()
    try:
        credits = PrepaidCredits(service.for_plugin("billing"))
        old = _RedisBalances(redis, config.redis.prefix) if redis is not None and config.redis else _SqliteBalances(config)
        async for tenant_id, consumer_id, micros in old.entries():
            entry = {"tenant_id": tenant_id, "consumer_id": consumer_id, "balance": money_text(from_micros(micros))}
            now = await credits.balance(tenant_id, consumer_id)
            if now != 0:
                kept.append(entry | {"reason": f"the new balance is already {money_text(from_micros(now))}; add the old one by hand if it is due"})
                continue
            if micros and await credits.top_up(tenant_id, consumer_id, min(micros, MAX_BALANCE_MICROS)) is None:
                kept.append(entry | {"reason": "above the highest balance"})
                continue
            await old.delete(tenant_id, consumer_id)
            moved.append(entry)
        await old.finish()
    finally:
        service.close()
        if redis is not None:
            await redis.aclose()
    return {"moved": moved, "kept": kept}


def _redis(config: GatewayConfig) -> "Redis | None":
    if config.redis is None:
        return None
    from redis.asyncio import Redis

    section = config.redis
    return Redis(host=section.host, port=section.port, password=section.password or None, db=section.db, decode_responses=True)


class _RedisBalances:
    def __init__(self, redis: "Redis", prefix: str) -> None:
        self._redis = redis
        self._base = f"{prefix}:billing:credits:"

    async def entries(self) -> AsyncIterator[tuple[str, str, int]]:
        pattern = re.sub(r"([\\*?\[\]])", r"\\\1", self._base) + "*"
        async for key in self._redis.scan_iter(match=pattern, count=1000):
            tenant_id, _, consumer_id = key[len(self._base):].partition(":")  # tenant ids hold no ':'
            raw = await self._redis.get(key)
            if raw is not None and consumer_id:
                yield tenant_id, consumer_id, int(raw)

    async def delete(self, tenant_id: str, consumer_id: str) -> None:
        await self._redis.delete(f"{self._base}{tenant_id}:{consumer_id}")

    async def finish(self) -> None:
        """Old quota counters expire on their own (they had a TTL)."""


class _SqliteBalances:
    def __init__(self, config: GatewayConfig) -> None:
        path = data_dir_of(config) / FILE_NAME
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=30) if path.exists() else None

    async def entries(self) -> AsyncIterator[tuple[str, str, int]]:
        if self._db is None or not self._has("credits"):
            return
        for tenant_id, consumer_id, micros in self._db.execute("SELECT tenant_id, consumer, balance FROM credits").fetchall():
            yield tenant_id, consumer_id, int(micros)

    async def delete(self, tenant_id: str, consumer_id: str) -> None:
        assert self._db is not None
        self._db.execute("DELETE FROM credits WHERE tenant_id = ? AND consumer = ?", (tenant_id, consumer_id))

    async def finish(self) -> None:
        """Drop the old tables once nothing is left in them (the quota counts are not moved)."""
        if self._db is None:
            return
        if self._has("credits") and self._db.execute("SELECT COUNT(*) FROM credits").fetchone()[0] == 0:
            self._db.execute("DROP TABLE credits")
        if not self._has("credits"):
            self._db.execute("DROP TABLE IF EXISTS quota_counts")
        self._db.close()

    def _has(self, table: str) -> bool:
        assert self._db is not None
        return self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None
