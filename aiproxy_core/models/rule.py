"""A forwarding rule: which requests of a tenant go to which upstream, through which plugins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, field_validator

from .chain_entry import ChainEntry

HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("the path must start with '/'")
    if any(c in value for c in "?# "):
        raise ValueError("the path may not contain '?', '#' or spaces")
    return value.rstrip("/") or "/"


class RuleInput(BaseModel):
    """The body of ``POST``/``PUT .../rules``.

    ``strip_path`` has Kong's meaning: the matched ``path`` is cut from the request path and the
    rest is appended to the path of ``target``.
    """

    model_config = ConfigDict(extra="forbid")

    path: Annotated[str, AfterValidator(_path)] = Field(max_length=1000)
    target: HttpUrl
    methods: list[str] | None = Field(default=None, min_length=1)
    strip_path: bool = False
    plugin_chain: list[ChainEntry] = Field(default_factory=list, max_length=100)
    upstream_headers: dict[str, str] = Field(default_factory=dict)
    timeout: float | None = Field(default=None, gt=0, le=3600)

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        upper = [m.upper() for m in value]
        unknown = sorted(set(upper) - HTTP_METHODS)
        if unknown:
            raise ValueError(f"unknown HTTP method(s) {unknown}; use some of {sorted(HTTP_METHODS)}")
        return sorted(set(upper))


class Rule(RuleInput):
    """A stored rule. ``methods`` null means every method."""

    id: str
    tenant_id: str
    created_at: datetime
    updated_at: datetime
