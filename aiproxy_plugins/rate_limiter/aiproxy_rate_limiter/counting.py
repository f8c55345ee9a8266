"""What every counter does, in Redis or in memory: the sliding-window log with weighted entries.

Each counter (one per policy and subject) is a log of the hits still inside its window, each with
its time and cost, and their running total. A request is admitted only if, for *every* counter it
touches, ``total + cost <= limit``; then one entry is added to each, else to none. That all-or-none
step is atomic (one Lua script in Redis, one uninterrupted function in memory), so no two
processes can both take the last unit, and a request refused by one limit uses none of another.

An entry leaves its window ``window`` ms after it was counted, so the wait for room is exact: the
time at which enough of the oldest entries have left. A request never reserves more than a whole
limit (a huge ``max_tokens`` must not lock a client out for good); settling may then count more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, Sequence

__all__ = ["Counter", "CounterUnavailable", "Slot", "SlotState", "Verdict", "seconds_up"]


@dataclass(frozen=True, slots=True)
class Slot:
    """One counter a request touches."""

    name: str
    limit: int
    window_ms: int


@dataclass(frozen=True, slots=True)
class SlotState:
    #: What the window holds after this request (with it, when it was admitted).
    used: int
    #: Milliseconds until the oldest entry leaves the window (0 when it is empty).
    reset_ms: int
    #: What this request was charged in this counter (0 when refused).
    charged: int


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    #: When refused: milliseconds until every refusing counter has room for this request.
    retry_ms: int
    slots: tuple[SlotState, ...]


class CounterUnavailable(Exception):
    """The shared store could not be asked (down, slow or refusing); ``on_error`` decides."""


class Counter(Protocol):
    async def acquire(self, slots: Sequence[Slot], member: str, cost: int, timeout: float) -> Verdict:
        """Admit ``cost`` in every slot or in none; ``member`` names the entries for :meth:`settle`."""

    async def settle(self, slots: Sequence[Slot], member: str, charged: Sequence[int], actual: int, timeout: float) -> None:
        """Replace what ``member`` was charged by ``actual`` (0 refunds it), keeping its time."""


def seconds_up(milliseconds: int) -> int:
    """Whole seconds, rounded up: a client that waits this long is past the moment."""
    return math.ceil(milliseconds / 1000) if milliseconds > 0 else 0
