"""The rate-limit headers of a response: the IETF httpapi draft's and the common ``X-RateLimit-*``.

``RateLimit-Policy`` and ``RateLimit`` list every policy of the request
(``"default";q=100;w=60, "burst";q=10;w=1``); the ``X-RateLimit-*`` trio, which has room for one,
describes the tightest: the one that refused the request, else the one with the least left.
``t`` and ``X-RateLimit-Reset`` are seconds until the oldest counted hit leaves the window, i.e.
until some quota comes back (on a refusal: until this request would fit, the ``Retry-After``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

__all__ = ["PolicyStatus", "UNAVAILABLE_HEADER", "limit_headers"]

#: Set when the limiter could not count a request and ``on_error: open`` let it through.
UNAVAILABLE_HEADER = ("X-RateLimit-Status", "unavailable")


# Not frozen: one is built per limit per request, and a frozen dataclass sets each field through
# object.__setattr__ (1.4 µs for these six, ~0.3 µs plain). None is changed or hashed.
@dataclass(slots=True)
class PolicyStatus:
    name: str
    limit: int
    window_seconds: int
    remaining: int
    reset_seconds: int
    #: This policy refused the request.
    refusing: bool = False


def _sf_string(text: str) -> str:
    """A structured-field string (RFC 8941): quoted, with ``\\`` and ``"`` escaped."""
    found = _SF_STRINGS.get(text)
    if found is None:
        if len(_SF_STRINGS) >= 1024:
            _SF_STRINGS.clear()
        found = _SF_STRINGS[text] = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return found


#: Policy names as structured-field strings: the same few on every request.
_SF_STRINGS: dict[str, str] = {}


def limit_headers(statuses: Sequence[PolicyStatus]) -> dict[str, str]:
    if not statuses:
        return {}
    # One policy (the usual case) needs no sort key; names are quoted once (_sf_string): 4.4 -> 1.5 µs.
    tightest = statuses[0] if len(statuses) == 1 else min(statuses, key=lambda s: (not s.refusing, s.remaining, -s.reset_seconds))
    return {
        "RateLimit-Policy": ", ".join([f"{_sf_string(s.name)};q={s.limit};w={s.window_seconds}" for s in statuses]),
        "RateLimit": ", ".join([f"{_sf_string(s.name)};r={s.remaining};t={s.reset_seconds}" for s in statuses]),
        "X-RateLimit-Limit": str(tightest.limit),
        "X-RateLimit-Remaining": str(tightest.remaining),
        "X-RateLimit-Reset": str(tightest.reset_seconds),
    }
