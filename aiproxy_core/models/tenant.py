"""A tenant: one customer of the gateway, found by the subdomain of ``base_domain``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..pricing.overrides import PriceOverrides
from .chain_entry import ChainEntry
from .portal import PortalSettings

SUBDOMAIN_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


def _name_required_plugins(data: Any) -> Any:
    """A required plugin may leave out ``name``: the mapping key names it."""
    if isinstance(data, dict) and isinstance(data.get("required_plugins"), dict):
        named = {}
        for key, entry in data["required_plugins"].items():
            if isinstance(entry, dict) and "name" not in entry:
                entry = {**entry, "name": key}
            named[key] = entry
        data = {**data, "required_plugins": named}
    return data


class _TenantFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _fill_names(cls, data: Any) -> Any:
        return _name_required_plugins(data)

    @model_validator(mode="after")
    def _keys_match_names(self) -> "_TenantFields":
        for key, entry in (getattr(self, "required_plugins", None) or {}).items():
            if entry.name != key:
                raise ValueError(f"required_plugins.{key}: the entry's name {entry.name!r} must equal its key {key!r}")
        return self


class TenantCreate(_TenantFields):
    """The body of ``POST /api/v1/tenants``."""

    name: str = Field(min_length=1, max_length=200)
    subdomain: str = Field(pattern=SUBDOMAIN_PATTERN)
    tier: str = Field(default="free", min_length=1, max_length=50)
    enabled_plugins: list[str] | None = None
    required_plugins: dict[str, ChainEntry] = Field(default_factory=dict)
    #: The tenant's own model prices (USD per 1M tokens), over the core's table for
    #: ``X-AIProxy-Cost``: negotiated rates, fine-tunes, self-hosted models.
    model_prices: PriceOverrides = Field(default_factory=dict)
    #: What the tenant's consumers see at ``/-/portal``: self-serve signup (off by default) and its terms.
    portal: PortalSettings = Field(default_factory=PortalSettings)


class TenantPatch(_TenantFields):
    """The body of ``PATCH /api/v1/tenants/{id}``: any subset of the fields."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    subdomain: str | None = Field(default=None, pattern=SUBDOMAIN_PATTERN)
    tier: str | None = Field(default=None, min_length=1, max_length=50)
    enabled_plugins: list[str] | None = None
    required_plugins: dict[str, ChainEntry] | None = None
    model_prices: PriceOverrides | None = None
    portal: PortalSettings | None = None


class Tenant(TenantCreate):
    """A stored tenant.

    ``enabled_plugins`` null means the tenant's rules may use any installed plugin; a list limits
    them to those names. ``required_plugins`` run on every rule of the tenant and cannot be turned
    off by a rule.
    """

    id: str
    created_at: datetime
    updated_at: datetime
