"""The arithmetic of the three counter windows, shared by the SQLite backend (which runs it here)
and mirrored line for line by the Redis backend's Lua scripts (``redis_counters.py``).

Times are integer milliseconds of the store's clock; a window of ``W`` ms is aligned to the
epoch (buckets start at multiples of ``W``). Each window answers three questions: what is the
count now, does ``cost`` more fit under ``limit``, and how long until the count is down to a
target if nothing else is counted (``wait_ms``), from which ``retry_after`` and ``reset_after``
follow (:func:`judge`).

* :class:`SlidingBuckets` - Cloudflare's sliding-window counter: the count is
  ``prev * (W - elapsed) / W + cur`` (the previous bucket weighted by the share of it still
  inside the window ending now). The admission test is done in integers
  (``prev * (W - elapsed) + (cur + cost) * W <= limit * W``) so both backends agree exactly.
* :class:`FixedBucket` - the current aligned bucket only.
* :class:`ExactLog` - every admitted cost with its time; the count is their sum in the last ``W``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

__all__ = [
    "ExactLog",
    "FixedBucket",
    "Judgement",
    "SlidingBuckets",
    "checked_amount",
    "checked_kind",
    "judge",
    "window_ms",
]

KINDS = ("sliding", "fixed", "exact")


def window_ms(window: float) -> int:
    """A window in seconds as whole milliseconds (at least 1 ms), or a ValueError."""
    if isinstance(window, bool) or not isinstance(window, (int, float)) or not math.isfinite(window) or window < 0.001:
        raise ValueError(f"a counter window is a number of seconds of at least 0.001, not {window!r:.40}")
    return max(1, round(window * 1000))


def checked_amount(value: int, what: str) -> int:
    """A cost, limit or amount: an int of at least 0 (bool is refused: ``True`` is not a cost)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"a counter {what} is an integer of at least 0, not {value!r:.40}")
    return value


def checked_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"a counter kind is one of {', '.join(KINDS)}, not {kind!r:.40}")
    return kind


class Window(Protocol):
    def count(self) -> float: ...

    def fits(self, cost: int, limit: int) -> bool: ...

    def add(self, cost: int) -> None: ...

    def wait_ms(self, target: float) -> int:
        """Milliseconds until the count is at most ``target`` (>= 0) if nothing else is counted."""
        ...


@dataclass
class SlidingBuckets:
    prev: int
    cur: int
    elapsed: int
    width: int

    def count(self) -> float:
        return self.prev * (self.width - self.elapsed) / self.width + self.cur

    def fits(self, cost: int, limit: int) -> bool:
        width = self.width
        return self.prev * (width - self.elapsed) + (self.cur + cost) * width <= limit * width

    def add(self, cost: int) -> None:
        self.cur += cost

    def wait_ms(self, target: float) -> int:
        prev, cur, elapsed, width = self.prev, self.cur, self.elapsed, self.width
        if prev * (width - elapsed) + cur * width <= target * width:
            return 0
        if cur <= target:
            # Still in this bucket: the previous one's weight falls linearly to zero at its end.
            at = math.ceil(width - (target - cur) * width / prev)
            if prev * (width - at) > (target - cur) * width:
                at += 1  # floating-point rounding on large counts: never answer too early
            return at - elapsed
        # Next bucket: this one becomes the weighted previous one, the new one is empty.
        at = max(0, math.ceil(width - target * width / cur))
        if cur * (width - at) > target * width:
            at += 1
        return width - elapsed + at


@dataclass
class FixedBucket:
    cur: int
    elapsed: int
    width: int

    def count(self) -> float:
        return self.cur

    def fits(self, cost: int, limit: int) -> bool:
        return self.cur + cost <= limit

    def add(self, cost: int) -> None:
        self.cur += cost

    def wait_ms(self, target: float) -> int:
        return 0 if self.cur <= target else self.width - self.elapsed


class ExactLog:
    """The entries still inside the window: their ``total`` cost, and ``oldest()`` iterating
    (time counted in ms, cost) oldest first, read only when a wait must be computed."""

    def __init__(self, total: int, oldest: Callable[[], Iterable[tuple[int, int]]], now: int, width: int) -> None:
        self.total = total
        self.oldest = oldest
        self.now = now
        self.width = width
        self._added: list[tuple[int, int]] = []

    def count(self) -> float:
        return self.total

    def fits(self, cost: int, limit: int) -> bool:
        return self.total + cost <= limit

    def add(self, cost: int) -> None:
        self.total += cost
        self._added.append((self.now, cost))

    def wait_ms(self, target: float) -> int:
        need = self.total - target
        if need <= 0:
            return 0
        freed = 0
        for at, cost in itertools.chain(self.oldest(), self._added):
            freed += cost
            if freed >= need:
                # An entry counted at ``at`` is outside the window from ``at + width`` on.
                return at + self.width - self.now
        return self.width


@dataclass(frozen=True)
class Judgement:
    allowed: bool
    count: float
    retry_ms: float  # math.inf: this cost can never fit under this limit
    reset_ms: float


def judge(window: Window, cost: int, limit: int, *, counting: bool) -> Judgement:
    """Decide ``cost`` against ``limit`` and, when ``counting`` and it fits, count it.

    ``retry_ms``: 0 when allowed, else the wait until the same cost fits. ``reset_ms``: the wait
    until the count (after the call) has fallen back by ``cost`` when allowed, ``retry_ms`` when
    refused: either way the time after which the same call succeeds if nothing else is counted.
    """
    if cost <= limit and window.fits(cost, limit):
        if counting:
            window.add(cost)
        count = window.count()
        return Judgement(True, count, 0, window.wait_ms(max(0.0, count - cost)))
    retry = math.inf if cost > limit else window.wait_ms(limit - cost)
    return Judgement(False, window.count(), retry, retry)
