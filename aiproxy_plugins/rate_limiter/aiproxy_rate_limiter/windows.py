"""Window texts (``10s``, ``1m``, ``1h``, ``1d``) and the ``limits`` items they stand for.

A window is a whole number and a unit. Each unit is one of ``limits``' granularities, so a
limit of a rule is a :class:`limits.RateLimitItem` (``100 per 1 minute``): its ``get_expiry()``
is the window's length and its ``key_for()`` names the counter, the way ``limits`` names its own.
"""

from __future__ import annotations

import re

from limits import (
    RateLimitItem,
    RateLimitItemPerDay,
    RateLimitItemPerHour,
    RateLimitItemPerMinute,
    RateLimitItemPerSecond,
)

__all__ = ["MAX_WINDOW_SECONDS", "WINDOW_HELP", "parse_window", "rate_limit_item", "window_seconds"]

_UNITS: dict[str, type[RateLimitItem]] = {
    "s": RateLimitItemPerSecond,
    "m": RateLimitItemPerMinute,
    "h": RateLimitItemPerHour,
    "d": RateLimitItemPerDay,
}
_WINDOW = re.compile(r"^([1-9][0-9]{0,8})([smhd])$")

#: Windows are kept to a year (the ``exact`` log keeps one entry per counted request for a whole
#: window): longer ones are better served by quotas than by rate limits.
MAX_WINDOW_SECONDS = 366 * 86_400

WINDOW_HELP = "a positive whole number and a unit s, m, h or d, e.g. 10s, 1m, 1h or 1d"


def parse_window(text: str) -> tuple[int, str]:
    """``"90s"`` -> ``(90, "s")``; raises ValueError with a message fit for a 422."""
    match = _WINDOW.match(text)
    if match is None:
        raise ValueError(f"window {text!r} is not {WINDOW_HELP}")
    count, unit = int(match.group(1)), match.group(2)
    if count * _UNITS[unit].GRANULARITY.seconds > MAX_WINDOW_SECONDS:
        raise ValueError(f"window {text!r} is longer than the longest allowed window, 366d")
    return count, unit


def rate_limit_item(limit: int, window: str) -> RateLimitItem:
    """The ``limits`` item for ``limit`` per ``window`` (e.g. ``100``, ``"1m"`` -> 100 per 1 minute)."""
    count, unit = parse_window(window)
    return _UNITS[unit](limit, count)


def window_seconds(window: str) -> int:
    count, unit = parse_window(window)
    return count * _UNITS[unit].GRANULARITY.seconds
