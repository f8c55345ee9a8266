"""Export of billing events to a tenant's webhook, as CloudEvents 1.0 (structured mode), at least once.

A tenant configures a target (``PUT /api/v1/tenants/{tid}/billing/export``: ``url`` and optional
``secret``). When the worker writes an event of such a tenant to the ledger, the same atomic step
(the ledger's Lua script on Redis, its SQLite transaction embedded) also queues it for export, so
an event in the ledger is always either exported or still queued.

The export queue is a sorted set on Redis (``{prefix}:billing:export:queue``, member: the event
JSON, score: when it is next due) or the ``export_queue`` table embedded. The :class:`Exporter`
takes due entries and *leases* them (pushes their due time past the lease), POSTs each, and removes
it only after a 2xx. A failure (network error, 5xx, 408, 429) reschedules it with exponential backoff
and jitter; another 4xx is dropped (logged, counted). An exporter killed mid-delivery leaves its
entries leased; they fall due again when the lease ends. The receiver dedupes by
``Idempotency-Key`` (the CloudEvent ``id``: tenant id + request id).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer, field_validator

from aiproxy_core import kept_secret, masked_secret

from .events import BillingEvent
from .sqlite_db import BillingDatabase, transaction

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["ExportTarget", "ExportTargetInput", "ExportStore", "Exporter", "RedisExports", "SqliteExports", "cloud_event", "signature"]

logger = logging.getLogger("aiproxy.billing.export")

EVENT_TYPE = "dev.aiproxy.billing.request"
SIGNATURE_HEADER = "X-Aiproxy-Signature"


class ExportTarget(BaseModel):
    """Where a tenant's billing events go: ``{"url": "https://...", "secret": "..."}``.

    The secret is write-only: :meth:`public` (every Admin API answer) masks it, ``repr`` hides it,
    and only the stored JSON (``model_dump_json``, read back by the stores) holds the real value.
    """

    # hide_input_in_errors: a refused secret is not echoed in a 422 or a log line.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    url: str = Field(min_length=1, max_length=2000)
    #: If set, each delivery carries ``X-Aiproxy-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.
    secret: SecretStr | None = Field(default=None, min_length=1, max_length=500)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            parsed = httpx.URL(value)
        except Exception:
            raise ValueError("url must be an http(s) URL") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("url must be an http(s) URL")
        return value

    @field_serializer("secret", when_used="json")
    def _stored_secret(self, value: SecretStr | None) -> str | None:
        # JSON is what the stores keep: the real value, or deliveries could not be signed after a restart.
        return value.get_secret_value() if value is not None else None

    def public(self) -> dict[str, Any]:
        """The target as the Admin API answers it; ``PUT`` it back as shown to keep the secret."""
        secret = masked_secret(self.secret.get_secret_value()) if self.secret is not None else None
        return {"url": self.url, "signed": self.secret is not None, "secret": secret}

    def keeping_secret_of(self, stored: "ExportTarget | None") -> "ExportTarget":
        """This target, with the stored secret when this one's is its mask (422 ``masked_secret`` otherwise)."""
        if self.secret is None:
            return self
        before = stored.secret.get_secret_value() if stored is not None and stored.secret is not None else None
        sent = self.secret.get_secret_value()
        kept = kept_secret(sent, before, "secret")
        return self if kept is sent else self.model_copy(update={"secret": SecretStr(kept)})

    @property
    def url_for_logs(self) -> str:
        """The URL without userinfo or query, which may hold the receiver's credentials."""
        parsed = httpx.URL(self.url)
        return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))


class ExportTargetInput(ExportTarget):
    """The body of ``PUT .../billing/export``: a target, or an answer sent back as shown.

    ``signed`` is in every answer and derived from ``secret``, so it is accepted and ignored.
    """

    signed: bool | None = None

    def target(self) -> ExportTarget:
        return ExportTarget(url=self.url, secret=self.secret)


@dataclass(frozen=True)
class QueuedExport:
    key: str  # the store's handle (Redis: the member; SQLite: the idempotency key)
    tenant_id: str
    event: str
    attempts: int


def cloud_event(event: BillingEvent) -> dict[str, Any]:
    """The CloudEvents 1.0 structured-mode body for one billing event."""
    return {
        "specversion": "1.0",
        "type": EVENT_TYPE,
        "source": f"aiproxy/{event.tenant_id}",
        "id": event.idempotency_key,
        "time": event.timestamp,
        "datacontenttype": "application/json",
        "data": event.to_dict(),
    }


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class ExportStore(Protocol):
    async def put_target(self, tenant_id: str, target: ExportTarget) -> None: ...
    async def get_target(self, tenant_id: str) -> ExportTarget | None: ...
    async def delete_target(self, tenant_id: str) -> bool: ...
    async def take_due(self, now: float, lease: float, limit: int) -> list[QueuedExport]: ...
    async def done(self, item: QueuedExport) -> None: ...
    async def retry(self, item: QueuedExport, due: float) -> None: ...
    async def pending(self) -> int: ...


TAKE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], member)
  table.insert(out, member)
  table.insert(out, redis.call('HGET', KEYS[2], member) or '0')
end
return out
"""

RETRY = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
end
return 0
"""


class RedisExports:
    """Targets in ``{prefix}:billing:export:targets``; the queue and its attempt counts beside it."""

    def __init__(self, redis: "Redis", prefix: str) -> None:
        self._redis = redis
        self.targets = f"{prefix}:billing:export:targets"
        self.queue = f"{prefix}:billing:export:queue"
        self.attempts = f"{prefix}:billing:export:attempts"
        self._take = redis.register_script(TAKE_DUE)
        self._retry = redis.register_script(RETRY)

    async def put_target(self, tenant_id: str, target: ExportTarget) -> None:
        await self._redis.hset(self.targets, tenant_id, target.model_dump_json())

    async def get_target(self, tenant_id: str) -> ExportTarget | None:
        doc = await self._redis.hget(self.targets, tenant_id)
        return ExportTarget.model_validate_json(doc) if doc is not None else None

    async def delete_target(self, tenant_id: str) -> bool:
        return bool(await self._redis.hdel(self.targets, tenant_id))

    async def take_due(self, now: float, lease: float, limit: int) -> list[QueuedExport]:
        reply = await self._take(keys=[self.queue, self.attempts], args=[repr(now), repr(now + lease), limit])
        items = []
        for member, attempts in zip(reply[::2], reply[1::2]):
            member = member.decode() if isinstance(member, bytes) else member
            try:
                tenant = str(json.loads(member)["tenant_id"])
            except (ValueError, KeyError, TypeError):
                tenant = ""
            items.append(QueuedExport(member, tenant, member, int(attempts)))
        return items

    async def done(self, item: QueuedExport) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.queue, item.key)
            pipe.hdel(self.attempts, item.key)
            await pipe.execute()

    async def retry(self, item: QueuedExport, due: float) -> None:
        # Only while still queued (another exporter may have delivered it after our lease ran out).
        await self._retry(keys=[self.queue, self.attempts], args=[item.key, repr(due)])

    async def pending(self) -> int:
        return int(await self._redis.zcard(self.queue))


class SqliteExports:
    def __init__(self, database: BillingDatabase) -> None:
        self._db = database

    async def put_target(self, tenant_id: str, target: ExportTarget) -> None:
        doc = target.model_dump_json()
        await self._db.run(lambda c: c.execute(
            "INSERT INTO export_targets (tenant_id, doc) VALUES (?, ?) ON CONFLICT (tenant_id) DO UPDATE SET doc = excluded.doc",
            (tenant_id, doc),
        ))

    async def get_target(self, tenant_id: str) -> ExportTarget | None:
        rows = await self._db.run(lambda c: c.execute("SELECT doc FROM export_targets WHERE tenant_id = ?", (tenant_id,)).fetchall())
        return ExportTarget.model_validate_json(rows[0][0]) if rows else None

    async def delete_target(self, tenant_id: str) -> bool:
        return bool(await self._db.run(lambda c: c.execute("DELETE FROM export_targets WHERE tenant_id = ?", (tenant_id,)).rowcount))

    async def take_due(self, now: float, lease: float, limit: int) -> list[QueuedExport]:
        def take(c: sqlite3.Connection) -> list[QueuedExport]:
            rows = c.execute(
                "SELECT idempotency_key, tenant_id, event, attempts FROM export_queue WHERE next_at <= ? ORDER BY next_at LIMIT ?",
                (now, limit),
            ).fetchall()
            c.executemany("UPDATE export_queue SET next_at = ? WHERE idempotency_key = ?", [(now + lease, r[0]) for r in rows])
            return [QueuedExport(*row) for row in rows]

        return await self._db.run(lambda c: transaction(c, take))

    async def done(self, item: QueuedExport) -> None:
        await self._db.run(lambda c: c.execute("DELETE FROM export_queue WHERE idempotency_key = ?", (item.key,)))

    async def retry(self, item: QueuedExport, due: float) -> None:
        await self._db.run(lambda c: c.execute(
            "UPDATE export_queue SET attempts = attempts + 1, next_at = ? WHERE idempotency_key = ?", (due, item.key)
        ))

    async def pending(self) -> int:
        rows = await self._db.run(lambda c: c.execute("SELECT COUNT(*) FROM export_queue").fetchall())
        return int(rows[0][0])


class Exporter:
    """Delivers due export entries; removes each only after a 2xx."""

    def __init__(
        self,
        store: ExportStore,
        *,
        min_backoff: float = 0.5,
        max_backoff: float = 60.0,
        timeout: float = 10.0,
        lease: float | None = None,
        batch_size: int = 50,
        poll: float = 0.5,
    ) -> None:
        self._store = store
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._timeout = timeout
        #: How long a taken entry stays invisible to other exporters (longer than one delivery).
        self._lease = lease if lease is not None else timeout + 30.0
        self._batch = batch_size
        self._poll = poll
        self.delivered = 0
        self.dropped = 0
        self.failed_attempts = 0

    def backoff(self, attempts: int) -> float:
        """The delay after the ``attempts + 1``-th failure: doubling from ``min_backoff``, capped, jittered."""
        delay = min(self.max_backoff, self.min_backoff * (2 ** min(attempts, 32)))
        return delay * random.uniform(0.5, 1.0)

    async def step(self, client: httpx.AsyncClient) -> int:
        items = await self._store.take_due(time.time(), self._lease, self._batch)
        targets: dict[str, ExportTarget | None] = {}
        for tenant in {item.tenant_id for item in items}:
            targets[tenant] = await self._store.get_target(tenant)
        await asyncio.gather(*(self._deliver(client, item, targets.get(item.tenant_id)) for item in items))
        return len(items)

    async def _deliver(self, client: httpx.AsyncClient, item: QueuedExport, target: ExportTarget | None) -> None:
        try:
            event = BillingEvent.from_json(item.event)
        except (ValueError, TypeError):
            logger.error("billing export: dropping a malformed queued event")
            self.dropped += 1
            await self._store.done(item)
            return
        if target is None:
            logger.warning("billing export: tenant %s no longer exports; dropping event %s", item.tenant_id, event.idempotency_key)
            self.dropped += 1
            await self._store.done(item)
            return
        body = json.dumps(cloud_event(event), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/cloudevents+json", "Idempotency-Key": event.idempotency_key}
        if target.secret is not None:
            headers[SIGNATURE_HEADER] = signature(target.secret.get_secret_value(), int(time.time()), body)
        try:
            response = await client.post(target.url, content=body, headers=headers, timeout=self._timeout)
            status: int | None = response.status_code
        except httpx.HTTPError as exc:
            status, reason = None, type(exc).__name__  # not the message: it may quote the URL
        if status is not None and 200 <= status < 300:
            self.delivered += 1
            await self._store.done(item)
            return
        if status is not None and 400 <= status < 500 and status not in (408, 429):
            self.dropped += 1
            logger.error("billing export of %s to %s refused with %d; not retried", event.idempotency_key, target.url_for_logs, status)
            await self._store.done(item)
            return
        self.failed_attempts += 1
        delay = self.backoff(item.attempts)
        logger.warning(
            "billing export of %s to %s failed (%s, attempt %d); retrying in %.2f s",
            event.idempotency_key, target.url_for_logs, status if status is not None else reason, item.attempts + 1, delay,
        )
        await self._store.retry(item, time.time() + delay)

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> None:
        """Deliver until ``stop`` is set (``once``: until nothing is due now)."""
        async with httpx.AsyncClient() as client:
            while not stop.is_set():
                try:
                    taken = await self.step(client)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("billing exporter step failed; retrying in 1 s")
                    if once:
                        raise
                    await _wait(stop, 1.0)
                    continue
                if taken == 0:
                    if once:
                        return
                    await _wait(stop, self._poll)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass
