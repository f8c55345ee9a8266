"""``plugins.analytics`` in config.yaml (process-wide), and a chain entry's settings (none yet)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .sketch import DEFAULT_ACCURACY

__all__ = ["AnalyticsConfig", "AnalyticsSettings", "Retention"]


class Retention(BaseModel):
    """Seconds each interval's buckets are kept (a state-API TTL, so the store frees them)."""

    model_config = ConfigDict(extra="forbid")

    minute: int = Field(default=2 * 86400, ge=60, description="Seconds per-minute buckets are kept (2 days).")
    hour: int = Field(default=35 * 86400, ge=3600, description="Seconds per-hour buckets are kept (35 days).")
    day: int = Field(default=400 * 86400, ge=86400, description="Seconds per-day buckets are kept (400 days).")


class AnalyticsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    relative_accuracy: float = Field(
        default=DEFAULT_ACCURACY, gt=0.0001, lt=0.5,
        description=(
            "DDSketch's relative accuracy: every reported percentile is within this fraction of the exact value at its rank. "
            "Every process of a deployment must use the same (sketches of different accuracies do not merge: the reader skips "
            "them and logs it)."
        ),
    )
    flush_seconds: float = Field(default=1.0, gt=0, le=60, description="How often a process writes its buckets to the state store (seconds).")
    retention: Retention = Field(default_factory=Retention, description="Seconds each interval's buckets are kept.")
    max_groups: int = Field(
        default=1000, ge=1, le=100_000,
        description=(
            "Distinct values per bucket, dimension and process (consumers, models, ...); the rest count under `other`, so a "
            "flood of made-up model names cannot grow the store."
        ),
    )
    country_database: str = Field(
        default="geoip2fast-ipv6.dat.gz",
        description="The IP -> country database: a file name inside the geoip2fast package, or a path.",
    )
    country_header: str | None = Field(
        default=None,
        description=(
            "A header naming the client's country set by the proxy in front (`CF-IPCountry` behind Cloudflare): believed only "
            "on connections from `server.trusted_proxies`, and only when set here (off by default: a proxy that passes a "
            "client's own header on would let the client choose its country)."
        ),
    )
    keep_records: bool = Field(
        default=False,
        description=(
            "Keep each request's record (`records(\"requests\")` of the state API: the SQLite state file embedded, PostgreSQL "
            "when `records.postgresql` is set, none on Redis without it). Off by default: writing every record took about a "
            "tenth of the event loop's time in a profile under load, and the aggregates the analytics API answers from do not need them."
        ),
    )


class AnalyticsSettings(BaseModel):
    """A chain entry's settings: nothing to set yet (the plugin records every request of the chain)."""

    model_config = ConfigDict(extra="forbid")
