"""A consumer: someone a tenant sells its API to, with keys of their own and one plan."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ConsumerCreate(BaseModel):
    """The body of ``POST /api/v1/tenants/{tenant_id}/consumers``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    #: The plan (of the ``billing`` plugin) that prices this consumer's calls and sets its limits.
    plan_id: str | None = Field(default=None, min_length=1, max_length=100)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ConsumerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    plan_id: str | None = Field(default=None, min_length=1, max_length=100)
    metadata: dict[str, Any] | None = None


class Consumer(ConsumerCreate):
    id: str
    tenant_id: str
    created_at: datetime
    updated_at: datetime
