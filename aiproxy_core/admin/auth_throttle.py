"""Slowing down token and key guessing: failed attempts per client address, in this process's memory.

After ``failures_per_minute`` failed attempts within a minute from one address, every attempt
from it that presents a credential is refused (429) until that minute is over, even one with
the right credential, so a guesser cannot tell a hit from a miss. The window starts at an
address's first failure. At most ``max_addresses`` are remembered (the oldest are forgotten
first), so a flood of addresses costs bounded memory. Each gateway process counts on its own.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["AuthFailureThrottle"]

WINDOW_SECONDS = 60.0


class AuthFailureThrottle:
    def __init__(
        self, failures_per_minute: int, *, max_addresses: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures_per_minute = failures_per_minute
        self.max_addresses = max_addresses
        self._clock = clock
        #: address -> [start of its window, failures in it], oldest first.
        self._failures: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it may now."""
        entry = self._failures.get(address)
        if entry is None or entry[1] < self.failures_per_minute:
            return None
        left = entry[0] + WINDOW_SECONDS - self._clock()
        if left <= 0:
            del self._failures[address]
            return None
        return max(1, math.ceil(left))

    def failed(self, address: str) -> None:
        now = self._clock()
        entry = self._failures.get(address)
        if entry is None or now - entry[0] >= WINDOW_SECONDS:
            self._failures.pop(address, None)
            self._failures[address] = [now, 1]
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)
        else:
            entry[1] += 1
