"""Plans: what a consumer pays, one pydantic model per plan type, chosen by ``type``.

The Admin API validates a body with :data:`PlanSpec` (a union discriminated by ``type``), so a
wrong field is a 422 naming it, and stores a :class:`Plan`: the spec plus id, tenant and times.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from .money import ZERO, Money

__all__ = [
    "FreePlan",
    "PayPerCallPlan",
    "Plan",
    "PlanSpec",
    "PLAN_SPEC",
    "PlanRateLimit",
    "SubscriptionPlan",
    "Tier",
    "TieredPlan",
    "TokenPrice",
    "UsagePlan",
]

_WINDOW = re.compile(r"^[1-9][0-9]{0,5}[smhd]$")

Period = Literal["day", "month"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanRateLimit(_Strict):
    """Handed to the rate limiter for requests on the plan (``ctx.state["plan_rate_limits"]``), which counts them."""

    limit: int = Field(ge=1, le=1_000_000_000)
    window: str

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        if not _WINDOW.match(value):
            raise ValueError("window must be a whole number and a unit s, m, h or d, e.g. \"1m\"")
        return value


class _PlanBase(_Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    rate_limits: PlanRateLimit | list[PlanRateLimit] | None = None
    #: Listed with its prices on the tenant's developer portal (``/-/portal``) for anyone to read.
    public: bool = False


class FreePlan(_PlanBase):
    """No charge; ``quota`` requests per ``period``, then ``over_quota_status`` (429 or 402)."""

    type: Literal["free"]
    quota: int = Field(ge=0, le=1_000_000_000)
    period: Period = "month"
    over_quota_status: Literal[429, 402] = 429


class PayPerCallPlan(_PlanBase):
    """``price_per_request`` for every request, unless its endpoint (request path) has its own price."""

    type: Literal["pay_per_call"]
    price_per_request: Money
    endpoint_prices: dict[Annotated[str, Field(pattern=r"^/", max_length=500)], Money] = Field(default_factory=dict, max_length=500)


class SubscriptionPlan(_PlanBase):
    """``fee`` per period with ``included_requests`` (and ``included_tokens``); overage above them."""

    type: Literal["subscription"]
    fee: Money
    period: Period = "month"
    included_requests: int = Field(default=0, ge=0)
    overage_per_request: Money = ZERO
    included_tokens: int = Field(default=0, ge=0)
    #: Price per 1,000 tokens (input + output) above ``included_tokens``.
    overage_per_1k_tokens: Money = ZERO



class Tier(_Strict):
    """Units up to ``up_to`` (inclusive; None: no end) cost ``unit_price`` each, plus ``flat_fee`` once."""

    up_to: int | None = Field(default=None, ge=1)
    unit_price: Money = ZERO
    flat_fee: Money = ZERO



class TieredPlan(_PlanBase):
    """Graduated, volume or package pricing of requests or tokens per period.

    * ``graduated``: each unit costs the price of the tier it falls in (1-100 at one price, the
      101st onwards at the next...), plus the flat fee of every tier reached.
    * ``volume``: all units cost the price of the tier the total falls in, plus its flat fee.
    * ``package``: units are sold in whole packages of ``package_size`` at ``package_price``
      (rounded up: 101 units with packages of 100 are two packages).
    """

    type: Literal["tiered"]
    mode: Literal["graduated", "volume", "package"]
    unit: Literal["requests", "tokens"] = "requests"
    period: Period = "month"
    tiers: list[Tier] = Field(default_factory=list, max_length=50)
    package_size: int | None = Field(default=None, ge=1)
    package_price: Money | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "TieredPlan":
        if self.mode == "package":
            if self.package_size is None or self.package_price is None:
                raise ValueError("package pricing needs package_size and package_price")
            if self.tiers:
                raise ValueError("package pricing takes no tiers")
            return self
        if not self.tiers:
            raise ValueError(f"{self.mode} pricing needs at least one tier")
        bounds = [t.up_to for t in self.tiers]
        if bounds[-1] is not None:
            raise ValueError("the last tier must have no up_to (it takes every unit above the others)")
        if any(b is None for b in bounds[:-1]):
            raise ValueError("only the last tier may leave up_to out")
        numbers = [b for b in bounds[:-1] if b is not None]
        if numbers != sorted(set(numbers)):
            raise ValueError("tiers' up_to must increase strictly")
        return self


class TokenPrice(_Strict):
    """Prices per one million tokens, as providers publish them."""

    input_per_1m: Money
    output_per_1m: Money


class UsagePlan(_PlanBase):
    """Per input and output token by model: ``prices`` first, then the plugin's price table.

    ``markup_percent`` is added on top (a reseller's margin); a model in neither table costs
    ``unknown_model`` prices (zero by default) so a new model never blocks a request.
    """

    type: Literal["usage"]
    prices: dict[Annotated[str, Field(min_length=1, max_length=200)], TokenPrice] = Field(default_factory=dict, max_length=500)
    use_price_table: bool = True
    markup_percent: Money = ZERO
    unknown_model: TokenPrice | None = None



PlanSpec = Annotated[
    Union[FreePlan, PayPerCallPlan, SubscriptionPlan, TieredPlan, UsagePlan],
    Field(discriminator="type"),
]
PLAN_SPEC: TypeAdapter[PlanSpec] = TypeAdapter(PlanSpec)


class Plan(BaseModel):
    """A stored plan: its id, tenant and times, and the validated spec."""

    model_config = ConfigDict(extra="forbid")

    id: str
    tenant_id: str
    created_at: datetime
    updated_at: datetime
    spec: PlanSpec

    def on_portal(self) -> dict[str, object]:
        """What the developer portal shows of a public plan: its terms and prices, not its tenant or times."""
        body = self.spec.model_dump(mode="json", exclude_none=True, exclude={"public"})
        return {"id": self.id, **body}

    def public(self) -> dict[str, object]:
        """The Admin API's view: the spec's fields at the top level, beside id and times."""
        body = self.spec.model_dump(mode="json", exclude_none=True)
        return {"id": self.id, "tenant_id": self.tenant_id, **body,
                "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat()}
