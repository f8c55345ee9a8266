"""Export of billing events to a tenant's webhook, as CloudEvents 1.0 (structured mode), at least once.

A tenant configures a target (``PUT /api/v1/tenants/{tid}/billing/export``: ``url`` and optional
``secret``). When the worker writes a batch of events to the ledger, it queues those of exporting
tenants for export *before* it counts them (:mod:`.ledger`), so a counted event is always either
exported or still queued; a batch replayed after a crash may queue an event twice.

The export queue is the core's state queue ``exports`` (:class:`StateExports`). The
:class:`Exporter` claims due items (a claim is a *lease*: unacknowledged, they go to another
exporter after it), POSTs each, and acknowledges it only after a 2xx. A failure (network error,
5xx, 408, 429) queues it again with exponential backoff and jitter; another 4xx is dropped
(logged, counted). The receiver dedupes by ``Idempotency-Key`` (the CloudEvent ``id``: tenant id +
request id).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer, field_validator

from aiproxy_core import kept_secret, masked_secret
from aiproxy_core.state import PluginState, QueueEntry

from .events import BillingEvent

__all__ = ["ExportTarget", "ExportTargetInput", "ExportStore", "Exporter", "StateExports", "cloud_event", "signature"]

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


#: The exporters' worker group on the ``exports`` queue.
EXPORTER = "exporter"
TARGET = "export:target"


class StateExports:
    """Targets as values (``export:target`` of each tenant), deliveries on the state queue ``exports``.

    An item is ``{"event": {...}, "attempts": n, "not_before": unix seconds}``. A failed delivery
    is queued again as a copy with one more attempt and its backoff's ``not_before``, then the
    original is acknowledged; an item claimed before it is due is held by the exporter that took
    it (unacknowledged) until then. An exporter that dies leaves its items claimed: another takes
    them over once ``lease`` seconds have passed (the queue's reclaim), so delivery is at least
    once and the receiver dedupes by the CloudEvents id.
    """

    def __init__(self, state: PluginState, worker: str = "") -> None:
        self._state = state
        self._queue = state.queue("exports")
        self._worker = worker or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._held: dict[str, tuple[float, QueuedExport]] = {}

    async def put_target(self, tenant_id: str, target: ExportTarget) -> None:
        await self._state.values(tenant_id).set(TARGET, target.model_dump(mode="json"))

    async def get_target(self, tenant_id: str) -> ExportTarget | None:
        doc = await self._state.values(tenant_id).get(TARGET)
        return ExportTarget.model_validate(doc) if doc is not None else None

    async def delete_target(self, tenant_id: str) -> bool:
        return await self._state.values(tenant_id).delete(TARGET)

    async def queue_events(self, events: list[BillingEvent]) -> None:
        """Queue the events of tenants that have a target (the ledger calls it for each batch)."""
        exporting: dict[str, bool] = {}
        items: list[dict[str, Any]] = []
        for event in events:
            if event.tenant_id not in exporting:
                exporting[event.tenant_id] = await self._state.values(event.tenant_id).get(TARGET) is not None
            if exporting[event.tenant_id]:
                items.append({"event": event.to_dict(), "attempts": 0, "not_before": 0})
        if items:
            # Appended in one turn: one write for the batch (an await per append was a round trip
            # per event, so an exporting tenant's busy ledger batch took hundreds of them).
            await asyncio.gather(*[self._queue.append(item) for item in items])

    async def take_due(self, now: float, lease: float, limit: int) -> list[QueuedExport]:
        for entry in await self._queue.claim(EXPORTER, self._worker, count=limit, reclaim_after=lease):
            item, due = _queued(entry)
            self._held[entry.id] = (due, item)
        due_now = [item for due, item in self._held.values() if due <= now][:limit]
        for item in due_now:
            del self._held[item.key]
        return due_now

    async def done(self, item: QueuedExport) -> None:
        await self._queue.ack(EXPORTER, [item.key])

    async def retry(self, item: QueuedExport, due: float) -> None:
        await self._queue.append({"event": json.loads(item.event), "attempts": item.attempts + 1, "not_before": due})
        await self._queue.ack(EXPORTER, [item.key])

    async def pending(self) -> int:
        return await self._queue.backlog(EXPORTER)


def _queued(entry: QueueEntry) -> tuple[QueuedExport, float]:
    item = entry.item if isinstance(entry.item, dict) else {}
    event = item.get("event")
    tenant = str(event.get("tenant_id", "")) if isinstance(event, dict) else ""
    attempts = item.get("attempts")
    due = item.get("not_before")
    queued = QueuedExport(
        entry.id, tenant, json.dumps(event), attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 0
    )
    return queued, float(due) if isinstance(due, (int, float)) and not isinstance(due, bool) else 0.0


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
        #: How long a taken entry stays invisible to other exporters: longer than one delivery plus
        #: the longest backoff, since an exporter holds a retried item until it is due.
        self._lease = lease if lease is not None else timeout + max_backoff + 30.0
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
