"""How a request is counted: one step over every limit it touches, and a settlement after it.

The counters are the core's (``services.state("rate_limiter").counters(tenant)``): on Redis one
Lua script by Redis's clock, embedded one SQLite transaction, and on both the step is all or
none, so no two processes can both take the last unit, and a request refused by one limit uses
none of another. A request never reserves more than a whole limit (a huge ``max_tokens`` must not
lock a client out for good); settling may then count more than the limit.

Outages: the state API raises ``ConnectionError`` / ``TimeoutError`` when the store cannot be
reached (and :class:`ScriptError` when Redis refuses a script, e.g. out of memory); so does
``redis_timeout`` here. All three become :class:`CounterUnavailable`, and ``on_error`` decides.
"""

from __future__ import annotations

import math
from typing import Awaitable, Callable, NamedTuple, Sequence, TypeVar

from aiproxy_core import ScriptError
from aiproxy_core.state import CounterRefund, CounterRequest, Counters, CounterVerdict, WindowKind

from .outage import Outage

__all__ = ["CounterUnavailable", "Slot", "acquire", "seconds_up", "settle"]

#: A ceiling no settlement reaches: extra usage is counted whatever the limit.
UNBOUNDED = 2**53 - 1

T = TypeVar("T")


# A NamedTuple, not a frozen dataclass: every request looks its counter requests up by its slots
# (acquire's _STEPS), and a dataclass's generated __hash__ runs in Python per slot and lookup.
class Slot(NamedTuple):
    """One counter a request touches."""

    name: str
    limit: int
    seconds: int


class CounterUnavailable(Exception):
    """The shared store could not be asked (down, slow or refusing); ``on_error`` decides."""


#: What a counters call raises when the store cannot count: each becomes CounterUnavailable.
_STORE_FAILED = (OSError, TimeoutError, ScriptError)


def _check_paused(outage: Outage) -> None:
    if outage.paused():
        raise CounterUnavailable("the state store failed a moment ago; not asking again yet")


def _unavailable(outage: Outage, exc: Exception) -> CounterUnavailable:
    outage.failed(exc)
    return CounterUnavailable(f"{type(exc).__name__}: {exc}")


async def _asked(outage: Outage, call: Callable[[], Awaitable[T]]) -> T:
    """``call`` (a counters call given ``redis_timeout``: the store bounds the wait, one timer for
    every call of an event-loop turn, instead of an ``asyncio.timeout`` per request)."""
    _check_paused(outage)
    try:
        result = await call()
    except _STORE_FAILED as exc:
        raise _unavailable(outage, exc) from exc
    outage.recovered()
    return result


async def acquire(
    counters: Counters, outage: Outage, slots: Sequence[Slot], cost: int, kind: WindowKind, timeout: float
) -> list[CounterVerdict]:
    """Count ``cost`` (at most each limit) in every slot or in none."""
    memo = (tuple(slots), cost, kind)
    step = _STEPS.get(memo)
    if step is None:
        if len(_STEPS) >= _STEPS_MAX:
            _STEPS.clear()
        step = _STEPS[memo] = tuple(CounterRequest(s.name, min(cost, s.limit), s.limit, s.seconds, kind) for s in slots)
    # _asked's steps written out: every rate-limited request comes here, and a coroutine and a
    # lambda fewer is one await level less on its way to Redis and back.
    _check_paused(outage)
    try:
        verdicts = await counters.add_all(step, timeout=timeout)
    except _STORE_FAILED as exc:
        raise _unavailable(outage, exc) from exc
    outage.recovered()
    return verdicts


#: The counter requests of recent (slots, cost, kind), built once instead of per request (the
#: same few on every request of a subject; cleared when full).
_STEPS: dict[tuple[tuple[Slot, ...], int, WindowKind], tuple[CounterRequest, ...]] = {}
_STEPS_MAX = 4096


async def settle(
    counters: Counters,
    outage: Outage,
    slots: Sequence[Slot],
    charged: Sequence[int],
    actual: int,
    kind: WindowKind,
    timeout: float,
) -> None:
    """Replace what a request was charged by ``actual`` (0 refunds it): the difference is taken
    back from (or added to) the current window."""
    back = [CounterRefund(s.name, c - actual, s.seconds, kind) for s, c in zip(slots, charged) if c > actual]
    more = [CounterRequest(s.name, actual - c, UNBOUNDED, s.seconds, kind) for s, c in zip(slots, charged) if actual > c]
    if back:
        await _asked(outage, lambda: counters.refund_all(back, timeout=timeout))
    if more:
        await _asked(outage, lambda: counters.add_all(more, timeout=timeout))


def seconds_up(seconds: float) -> int:
    """Whole seconds, rounded up: a client that waits this long is past the moment."""
    return math.ceil(seconds) if seconds > 0 else 0
