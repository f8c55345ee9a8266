"""Counters in this process's memory, for an embedded gateway: the same log and rules as Redis.

Each method runs to its end without awaiting anything, so on one event loop no other request can
come between reading a total and adding to it: that is what makes it asyncio-safe without locks.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Sequence

from .counting import Slot, SlotState, Verdict

__all__ = ["MemoryCounter"]

#: Every this many acquisitions, logs nobody touched lately are swept (e.g. one per client IP).
SWEEP_EVERY = 4096


class _Log:
    __slots__ = ("entries", "total", "window_ms")

    def __init__(self, window_ms: int) -> None:
        # member -> (time counted in ms, cost); insertion order is time order.
        self.entries: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self.total = 0
        self.window_ms = window_ms

    def trim(self, now: int) -> None:
        cutoff = now - self.window_ms
        entries = self.entries
        while entries:
            member, (at, cost) = next(iter(entries.items()))
            if at > cutoff:
                break
            del entries[member]
            self.total -= cost

    def reset_ms(self, now: int) -> int:
        if not self.entries:
            return 0
        at, _ = next(iter(self.entries.values()))
        return at + self.window_ms - now

    def wait_for_room(self, now: int, limit: int, need: int) -> int:
        excess = self.total + need - limit
        freed = 0
        for at, cost in self.entries.values():
            freed += cost
            if freed >= excess:
                return at + self.window_ms - now
        return self.window_ms


def _monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class MemoryCounter:
    def __init__(self, clock: Callable[[], int] = _monotonic_ms) -> None:
        self._clock = clock
        self._logs: dict[str, _Log] = {}
        self._until_sweep = SWEEP_EVERY

    async def acquire(self, slots: Sequence[Slot], member: str, cost: int, timeout: float) -> Verdict:
        now = self._clock()
        self._sweep_now_and_then(now)
        logs = []
        allowed = True
        for slot in slots:
            log = self._logs.get(slot.name)
            if log is None:
                log = self._logs[slot.name] = _Log(slot.window_ms)
            log.trim(now)
            logs.append(log)
            if log.total + min(cost, slot.limit) > slot.limit:
                allowed = False
        retry_ms = 0
        states = []
        for slot, log in zip(slots, logs):
            charge = min(cost, slot.limit)
            if allowed:
                log.entries[member] = (now, charge)
                log.total += charge
            elif log.total + charge > slot.limit:
                retry_ms = max(retry_ms, log.wait_for_room(now, slot.limit, charge))
            states.append(SlotState(used=log.total, reset_ms=log.reset_ms(now), charged=charge if allowed else 0))
            if not log.entries:
                del self._logs[slot.name]
        return Verdict(allowed=allowed, retry_ms=retry_ms, slots=tuple(states))

    async def settle(self, slots: Sequence[Slot], member: str, charged: Sequence[int], actual: int, timeout: float) -> None:
        for slot, cost in zip(slots, charged):
            log = self._logs.get(slot.name)
            if log is None or cost == actual:
                continue
            log.trim(self._clock())
            found = log.entries.get(member)
            if found is None:
                continue  # it has left the window: it no longer counts either way
            if actual > 0:
                log.entries[member] = (found[0], actual)  # keeps its place in time order
            else:
                del log.entries[member]
            log.total += actual - found[1]
            if not log.entries:
                del self._logs[slot.name]

    def _sweep_now_and_then(self, now: int) -> None:
        self._until_sweep -= 1
        if self._until_sweep > 0:
            return
        self._until_sweep = SWEEP_EVERY
        for name, log in list(self._logs.items()):
            log.trim(now)
            if not log.entries:
                del self._logs[name]
