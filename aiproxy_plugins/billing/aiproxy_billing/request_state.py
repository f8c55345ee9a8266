"""What the billing entry remembers about one request between its hooks (``ctx.state["billing"]``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiproxy_core.openai_shapes import TokenUsage
from aiproxy_core.state import Reservation

from .plans import Plan

__all__ = ["RequestBilling", "STATE_KEY", "billing_state"]

STATE_KEY = "billing"


@dataclass(slots=True)
class RequestBilling:
    plan: Plan | None = None
    #: We added include_usage, so the usage chunk is ours to remove before the client sees it.
    injected_usage: bool = False
    streamed_usage: TokenUsage | None = None
    #: Refused by the quota: not billable.
    refused: bool = False
    metered: bool = False
    #: What pre_request reserved from the consumer's prepaid credits (None: nothing, or settled).
    reservation: Reservation | None = None


def billing_state(ctx_state: dict[str, Any]) -> RequestBilling:
    state = ctx_state.get(STATE_KEY)
    if state is None:
        state = ctx_state[STATE_KEY] = RequestBilling()
    return state  # type: ignore[no-any-return]
