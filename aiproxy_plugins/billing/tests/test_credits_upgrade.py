"""Upgrading from billing's own credit storage: ``aiproxy billing-move-credits`` moves old balances
into the state API once, never twice, and leaves alone a consumer that already has a new balance."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
import yaml

from aiproxy_sdk import run_aiproxy

from aiproxy_billing.credits_upgrade import move_old_balances

BODY = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]}


def write_old_balance(gw: Any, consumer_id: str, micros: int) -> None:
    """What billing before the state API stored for a balance, written as it wrote it."""
    config, tenant = gw.gateway.config, gw.tenant["id"]
    if config.redis is not None:
        client = redis.Redis(host=config.redis.host, port=config.redis.port, decode_responses=True)
        client.set(f"{config.redis.prefix}:billing:credits:{tenant}:{consumer_id}", micros)
        client.close()
        return
    db = sqlite3.connect(str(Path(config.storage.path).resolve().parent / "billing.db"), isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS credits (tenant_id TEXT NOT NULL, consumer TEXT NOT NULL,"
               " balance INTEGER NOT NULL CHECK (balance >= 0), PRIMARY KEY (tenant_id, consumer))")
    db.execute("INSERT INTO credits VALUES (?, ?, ?)", (tenant, consumer_id, micros))
    db.close()


def old_balances_left(gw: Any) -> int:
    config = gw.gateway.config
    if config.redis is not None:
        client = redis.Redis(host=config.redis.host, port=config.redis.port, decode_responses=True)
        try:
            return len(list(client.scan_iter(match=f"{config.redis.prefix}:billing:credits:*")))
        finally:
            client.close()
    db = sqlite3.connect(str(Path(config.storage.path).resolve().parent / "billing.db"))
    try:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'credits'").fetchone() is None:
            return 0
        return int(db.execute("SELECT COUNT(*) FROM credits").fetchone()[0])
    finally:
        db.close()


async def balance(gw: Any, consumer_id: str) -> Decimal:
    answer = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/consumers/{consumer_id}/credits", headers=gw.tenant_auth)
    assert answer.status_code == 200, answer.text
    return Decimal(answer.json()["balance"])


async def test_old_balances_move_once_and_a_new_balance_is_never_added_to(billing_gateway: Any, consumer: Any) -> None:
    gw = await billing_gateway({"prepaid": True, "reserve": "0.01"})
    alice, alice_key = await consumer(gw)
    bob, _ = await consumer(gw, name="Bob")
    write_old_balance(gw, alice, 2_500_000)
    write_old_balance(gw, bob, 700_000)
    # Bob was topped up on the new version before the move: his old balance is not added blindly.
    topped = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/consumers/{bob}/credits", json={"amount": "1"}, headers=gw.tenant_auth)
    assert topped.status_code == 200, topped.text
    assert (await gw.proxy_client(alice_key).post("/v1/chat/completions", json=BODY)).status_code == 402  # not moved yet

    report = await move_old_balances(gw.gateway.config)
    assert report["moved"] == [{"tenant_id": gw.tenant["id"], "consumer_id": alice, "balance": "2.500000"}]
    assert [(k["consumer_id"], k["balance"]) for k in report["kept"]] == [(bob, "0.700000")]
    assert "already 1.000000" in report["kept"][0]["reason"]
    assert await balance(gw, alice) == Decimal("2.5")
    assert await balance(gw, bob) == Decimal(1)
    assert old_balances_left(gw) == 1  # Bob's, for the operator to decide
    assert (await gw.proxy_client(alice_key).post("/v1/chat/completions", json=BODY)).status_code == 200

    again = await move_old_balances(gw.gateway.config)  # a second run moves nothing twice
    assert again["moved"] == [] and [k["consumer_id"] for k in again["kept"]] == [bob]
    assert await balance(gw, bob) == Decimal(1)


async def test_the_command_moves_them_and_prints_what_it_moved(
    billing_gateway: Any, consumer: Any, tmp_path: Path
) -> None:
    import json

    gw = await billing_gateway({"prepaid": True})
    alice, _ = await consumer(gw)
    write_old_balance(gw, alice, 1_000_000)
    section = gw.gateway.config
    config: dict[str, Any] = {"storage": {"path": section.storage.path}}
    if section.redis is not None:
        config["redis"] = {"host": section.redis.host, "port": section.redis.port, "prefix": section.redis.prefix}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    run = run_aiproxy("billing-move-credits", "--config", str(path), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["moved"][0]["consumer_id"] == alice
    assert await balance(gw, alice) == Decimal(1)
    assert old_balances_left(gw) == 0
