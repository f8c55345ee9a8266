"""What the plugin keeps for one request in ``ctx.state["moderation"]``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiproxy_core import RequestContext

from .placeholders import PiiVault

if TYPE_CHECKING:
    from .stream_check import AnswerStream

__all__ = ["RequestState", "state_of"]

_KEY = "moderation"


@dataclass
class RequestState:
    vault: PiiVault = field(default_factory=PiiVault)
    stream: "AnswerStream | None" = None


def state_of(ctx: RequestContext) -> RequestState:
    found = ctx.state.get(_KEY)
    if not isinstance(found, RequestState):
        found = ctx.state[_KEY] = RequestState()
    return found
