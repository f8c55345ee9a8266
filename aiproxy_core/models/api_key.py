"""An API key as stored: never the key itself, only its SHA-256 and a short display prefix."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ApiKey(BaseModel):
    """A tenant key (``consumer_id`` None) or a consumer's key."""

    model_config = ConfigDict(extra="forbid")

    id: str
    tenant_id: str
    consumer_id: str | None = None
    name: str | None = Field(default=None, max_length=200)
    prefix: str
    hash: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    #: Rule ids this key may call; None means every rule of the tenant.
    scopes: list[str] | None = None
    #: Set on a key replaced by rotation: the id of its successor.
    replaced_by: str | None = None

    def public(self) -> dict[str, Any]:
        """What the Admin API shows of a key: everything but its hash."""
        return self.model_dump(mode="json", exclude={"hash"})
