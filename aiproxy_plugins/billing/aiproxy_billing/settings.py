"""The ``billing`` chain entry's settings, validated when a rule or tenant is saved."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator, model_validator

from .money import money_text, parse_credit_amount

__all__ = ["BillingConfig", "BillingSettings"]


class BillingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The plan for requests whose consumer has none (and for a tenant's own keys).
    plan_id: str | None = Field(default=None, min_length=1, max_length=100)
    #: Queue a billing event for each billable request.
    meter: bool = True
    #: Refuse requests over a free plan's quota (429 or 402, as the plan says).
    enforce_quota: bool = True
    #: For ``stream: true`` requests, ask the upstream for the final usage chunk
    #: (``stream_options.include_usage``); it is removed again before the client sees it,
    #: unless the client asked for it itself.
    stream_usage: bool = True
    #: Draw consumers' requests from their prepaid credits (402 ``insufficient_credits`` when short).
    prepaid: bool = False
    #: What each request reserves from the balance in ``pre_request`` (a decimal string, > 0,
    #: at most 6 decimal places); settled against the real price in ``post_response``.
    reserve: Decimal = Decimal("0.01")

    @field_validator("reserve", mode="before")
    @classmethod
    def _reserve(cls, value: object) -> Decimal:
        return parse_credit_amount(value, "reserve")

    @field_serializer("reserve")
    def _reserve_text(self, value: Decimal) -> str:
        return money_text(value)


class BillingConfig(BaseModel):
    """The operator's ``plugins.billing`` section of config.yaml (one per deployment, not per rule)."""

    model_config = ConfigDict(extra="forbid")

    run_worker: bool = Field(
        default=True,
        description=(
            "Run the ledger worker and the webhook exporter inside each `aiproxy serve` process. `false` leaves them to "
            "`aiproxy billing-worker` processes: the serving processes then only queue events (~10 % more requests/s per "
            "serving process in bench/run.sh), and the worker can run on another core or host. With `false` and no worker "
            "running, events wait in the queue."
        ),
    )
    claim_idle: float = Field(
        default=30.0, gt=0, le=3600,
        description="Seconds a worker that died may hold a batch before another takes it over (and replays it).",
    )
    dedupe_seconds: float = Field(
        default=600.0, gt=0, le=7 * 86400,
        description=(
            "Seconds the ledger remembers the request ids it counted, so a replayed batch counts nothing twice. Must be well "
            "above `claim_idle`; Redis holds about 80 bytes per billed request for this long (at 1,000 requests/s and 600 s: "
            "~50 MB), then frees them."
        ),
    )

    @model_validator(mode="after")
    def _dedupe_outlasts_a_claim(self) -> "BillingConfig":
        if self.dedupe_seconds < 2 * self.claim_idle + 10:
            raise ValueError(
                f"dedupe_seconds ({self.dedupe_seconds:g}) must be at least 2 x claim_idle + 10 s ({2 * self.claim_idle + 10:g}):"
                " a batch a dead worker left is replayed after claim_idle, and must still find its request ids remembered"
            )
        return self
