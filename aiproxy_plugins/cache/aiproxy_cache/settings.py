"""The settings of a ``cache`` chain entry, validated when a rule or tenant is saved."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CacheSettings"]

#: 30 days: longer than that, an answer is more likely stale than useful.
MAX_TTL = 30 * 24 * 3600


class CacheSettings(BaseModel):
    """See the plugin's README for the meaning of each field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttl: int = Field(default=3600, strict=True, gt=0, le=MAX_TTL, description="Seconds a cached answer is served.")
    semantic: bool = Field(
        default=False, strict=True, description="Also serve answers to near-identical last user messages."
    )
    threshold: float = Field(
        default=0.95, ge=0.5, le=1.0, description="Cosine similarity a semantic match needs (with semantic: true)."
    )
    max_semantic_entries: int = Field(
        default=2000,
        strict=True,
        gt=0,
        le=50_000,
        description="Answers indexed for semantic search per scope; past it, new answers are cached exactly only.",
    )
