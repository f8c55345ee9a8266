"""A billing event: one billable request, as it travels through the queue into the ledger."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

__all__ = ["BillingEvent", "billing_subject"]


def billing_subject(consumer_id: str | None, key_id: str) -> str:
    """Whose usage a request counts as: its consumer, or (a tenant's own key) ``key:<key id>``.

    Until every request has a consumer, a tenant key is its own billing subject, so its usage is
    still queryable (``/consumers/key:<key id>/usage``) and never mixed with a consumer's.
    """
    return consumer_id if consumer_id is not None else f"key:{key_id}"


@dataclass(frozen=True, slots=True)
class BillingEvent:
    request_id: str
    tenant_id: str
    consumer_id: str | None
    key_id: str
    rule_id: str
    #: The request path (without query): what per-endpoint prices and reports group by.
    endpoint: str
    model: str
    input_tokens: int
    output_tokens: int
    status: int
    latency_ms: float
    #: When the response was finished, ISO 8601 in UTC.
    timestamp: str
    plan_id: str | None = None

    @property
    def consumer(self) -> str:
        return billing_subject(self.consumer_id, self.key_id)

    @property
    def idempotency_key(self) -> str:
        """Tenant and request id: a client's X-Request-ID is unique only within its own tenant.

        Two requests of one tenant that reuse an id are billed once (documented); two tenants
        that happen to pick the same id are both billed.
        """
        return f"{self.tenant_id}:{self.request_id}"

    @property
    def day(self) -> str:
        return self.timestamp[:10]

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> "BillingEvent":
        return cls(**json.loads(text))

    @staticmethod
    def now() -> str:
        return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
