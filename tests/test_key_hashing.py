"""What the store keeps of an API key: its SHA-256 and a 12-character display prefix, nothing else.

Read back from the store itself (the SQLite file, every key under the Redis prefix), not through
the store's API, so a key kept in another form anywhere in it is found.
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

import pytest
import redis

from aiproxy_sdk.redis_space import REDIS_URL

#: The README's promise: a listing shows ``aip_`` and 8 more characters of a key.
DISPLAY_LENGTH = 12


@pytest.fixture
async def gw(aiproxy_gateway_factory, aiproxy_backend):
    return await aiproxy_gateway_factory(redis=aiproxy_backend)


def stored_text(gw: Any) -> str:
    """Everything the gateway's store holds, as one text."""
    section = gw.gateway.config.redis
    if section is None:
        with sqlite3.connect(gw.gateway.config.storage.path) as db:
            return "\n".join(db.iterdump())
    client = redis.Redis.from_url(REDIS_URL)
    try:
        parts = []
        for name in client.scan_iter(f"{section.prefix}:*", count=1000):
            kind = client.type(name).decode()
            value: Any = {
                "string": client.get,
                "hash": client.hgetall,
                "set": client.smembers,
                "zset": lambda n: client.zrange(n, 0, -1, withscores=True),
                "list": lambda n: client.lrange(n, 0, -1),
                "stream": lambda n: client.xrange(n),
            }[kind](name)
            parts.append(f"{name!r} {value!r}")
        return "\n".join(parts)
    finally:
        client.close()


def other_forms(raw_key: str) -> dict[str, str]:
    """Ways a careless store might keep a key that are not its SHA-256."""
    data = raw_key.encode()
    return {
        "the key": raw_key,
        "the key without its display prefix": raw_key[DISPLAY_LENGTH:],
        "md5": hashlib.md5(data).hexdigest(),
        "sha1": hashlib.sha1(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
        "sha256 of the random part": hashlib.sha256(raw_key[4:].encode()).hexdigest(),
        "13 characters of the key": raw_key[: DISPLAY_LENGTH + 1],
    }


async def made_keys(gw: Any) -> list[dict[str, Any]]:
    """A tenant key and a consumer key made over the Admin API (plus the harness's first key)."""
    tenant = gw.tenant["id"]
    tenant_key = (await gw.admin.post(f"/api/v1/tenants/{tenant}/keys", headers=gw.tenant_auth, json={"name": "ci"})).json()
    consumer = (await gw.admin.post(f"/api/v1/tenants/{tenant}/consumers", headers=gw.tenant_auth, json={"name": "Ada"})).json()
    consumer_key = await gw.admin.post(f"/api/v1/tenants/{tenant}/consumers/{consumer['id']}/keys", headers=gw.tenant_auth, json={})
    assert consumer_key.status_code == 201, consumer_key.text
    return [{"key": gw.api_key, "id": gw.tenant["api_key_id"]}, tenant_key, consumer_key.json() | {"consumer": consumer["id"]}]


async def test_the_store_holds_the_sha256_of_each_key_and_no_other_form(gw):
    keys = await made_keys(gw)
    stored = stored_text(gw)
    for made in keys:
        raw = made["key"]
        assert hashlib.sha256(raw.encode()).hexdigest() in stored, "the key's SHA-256 is not in the store"
        for what, form in other_forms(raw).items():
            assert form not in stored, f"the store holds {what} of key {made['id']}"
        record = await gw.gateway.store.get_key(gw.tenant["id"], made["id"])
        assert record.hash == hashlib.sha256(raw.encode()).hexdigest()


async def test_listings_show_a_twelve_character_prefix_and_the_store_keeps_no_more(gw):
    keys = await made_keys(gw)
    for made in keys[1:]:
        assert made["prefix"] == made["key"][:DISPLAY_LENGTH] and made["prefix"].startswith("aip_")
    tenant = gw.tenant["id"]
    by_id = {}
    for listing in (f"/api/v1/tenants/{tenant}/keys", f"/api/v1/tenants/{tenant}/consumers/{keys[2]['consumer']}/keys"):
        by_id |= {k["id"]: k for k in (await gw.admin.get(listing, headers=gw.tenant_auth)).json()["data"]}
    for made in keys:
        assert by_id[made["id"]]["prefix"] == made["key"][:DISPLAY_LENGTH]
        record = await gw.gateway.store.get_key(tenant, made["id"])
        assert record.prefix == made["key"][:DISPLAY_LENGTH]
    # The 13th character of a key is nowhere: the stored prefix is exactly what a listing shows.
    stored = stored_text(gw)
    for made in keys:
        assert made["key"][: DISPLAY_LENGTH + 1] not in stored
