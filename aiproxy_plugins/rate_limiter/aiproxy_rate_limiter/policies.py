"""The limits that apply to one request: an entry's own, its burst, its extra limits and the tier's plan.

Each becomes a :class:`Policy` with the name it has in the ``RateLimit-Policy`` header. Two limits
of one entry with the same size and window would count every request twice in one counter, so
they collapse into the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from limits import RateLimitItem

from .windows import rate_limit_item, window_seconds

__all__ = ["Policy", "build_policies"]


@dataclass(frozen=True, slots=True)
class Policy:
    #: The name in the ``RateLimit-Policy`` and ``RateLimit`` headers: ``default``, ``burst``,
    #: ``limits.<i>`` or ``plan.<tier>``; it says where in the settings the limit comes from.
    name: str
    limit: int
    #: The window as written in the settings (``1m``), for messages a person reads.
    window: str
    seconds: int
    item: RateLimitItem


def build_policies(named_limits: Iterable[tuple[str, int, str]]) -> tuple[Policy, ...]:
    """``(name, limit, window)`` triples -> policies, dropping repeats of an earlier limit."""
    policies: list[Policy] = []
    seen: set[tuple[int, int]] = set()
    for name, limit, window in named_limits:
        seconds = window_seconds(window)
        if (limit, seconds) in seen:
            continue
        seen.add((limit, seconds))
        policies.append(Policy(name, limit, window, seconds, rate_limit_item(limit, window)))
    return tuple(policies)
