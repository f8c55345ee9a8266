"""What one chain entry of the limiter remembers about one request, between its hooks.

It lives in ``ctx.state["rate_limiter"]``, a dict keyed by the chain entry (``entry.index``, the
core's :class:`~aiproxy_core.EntryRef`), so a tenant's required limiter and a rule's own limiter
on the same request keep separate states.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .counting import Slot
from .headers import PolicyStatus

__all__ = ["EntryState", "STATE_KEY", "entry_states"]

STATE_KEY = "rate_limiter"


@dataclass(slots=True)
class EntryState:
    slots: tuple[Slot, ...]
    #: What the request was charged in each slot (empty if it was refused or not counted).
    charged: tuple[int, ...] = ()
    statuses: tuple[PolicyStatus, ...] = ()
    #: Seconds until the request would fit, when it was refused.
    retry_after: int | None = None
    #: The counters could not be asked, and on_error: open let the request through.
    unavailable: bool = False
    #: With cost: tokens, the last usage seen in a streamed response.
    streamed_usage: int | None = None
    settled: bool = False


def entry_states(ctx_state: dict[str, Any]) -> dict[int, EntryState]:
    """Each limiter entry's state of this request, by ``entry.index``."""
    return ctx_state.setdefault(STATE_KEY, {})  # type: ignore[no-any-return]
