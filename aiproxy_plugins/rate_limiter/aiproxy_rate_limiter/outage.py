"""Living with an unreachable Redis: fail fast for a moment, and say so in the log now and then.

Without the pause every request would wait ``redis_timeout`` for a server that is known to be
gone (redis-py retries a refused connection with backoff on its own); with it, ``on_error``
decides at once until the next probe. The warning is rate-limited so an outage is one log line
per interval with a count, not one per request.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

__all__ = ["Outage"]

logger = logging.getLogger("aiproxy.rate_limiter")


class Outage:
    #: After a failure, calls fail at once for this long; then one call tries Redis again.
    PAUSE_SECONDS = 1.0
    #: At most one warning per this many seconds while Redis keeps failing.
    WARN_EVERY_SECONDS = 30.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._paused_until = 0.0
        self._next_warning = 0.0
        self._failures_unreported = 0
        self._down = False

    def paused(self) -> bool:
        if self._clock() < self._paused_until:
            self._failures_unreported += 1
            return True
        return False

    def failed(self, exc: BaseException) -> None:
        now = self._clock()
        self._down = True
        self._paused_until = now + self.PAUSE_SECONDS
        self._failures_unreported += 1
        if now >= self._next_warning:
            logger.warning(
                "rate limiter cannot reach Redis (%s); %d request(s) since the last warning followed "
                "their entry's on_error (closed: 503 plugin_unavailable, open: let through)",
                _describe(exc),
                self._failures_unreported,
            )
            self._failures_unreported = 0
            self._next_warning = now + self.WARN_EVERY_SECONDS

    def recovered(self) -> None:
        if self._down:
            self._down = False
            self._next_warning = 0.0
            logger.warning("rate limiter reaches Redis again; limits are enforced")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return "no answer within redis_timeout"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
