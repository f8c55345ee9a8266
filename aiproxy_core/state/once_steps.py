"""Checks of :meth:`Values.increment_once` calls, shared by both backends (a bad call writes nothing)."""

from __future__ import annotations

from typing import Sequence

from .api import MAX_ONCE_INCREMENTS, MAX_ONCE_STEPS, Increment, OnceStep
from .keyspace import checked_key
from .value_codec import check_fields, check_ttl

__all__ = ["checked_once_steps"]


def checked_once_steps(steps: Sequence[OnceStep], remember: float) -> float:
    """``remember`` in seconds, after every step, key and increment is checked (else ValueError)."""
    if isinstance(remember, bool) or not isinstance(remember, (int, float)) or not remember > 0 or remember == float("inf"):
        raise ValueError(f"remember is a positive number of seconds (how long a once-key is kept), not {remember!r:.40}")
    seconds = float(remember)
    if len(steps) > MAX_ONCE_STEPS:
        raise ValueError(f"increment_once takes at most {MAX_ONCE_STEPS} steps per call, not {len(steps)}: split the batch")
    increments = 0
    for step in steps:
        if not isinstance(step, OnceStep):
            raise ValueError(f"increment_once takes OnceStep items, not {type(step).__name__}")
        checked_key(step.once_key)
        for increment in step.increments:
            if not isinstance(increment, Increment):
                raise ValueError(f"a OnceStep's increments are Increment items, not {type(increment).__name__}")
            checked_key(increment.key)
            check_fields(increment.fields)
            check_ttl(increment.ttl)
        increments += len(step.increments)
    if increments > MAX_ONCE_INCREMENTS:
        raise ValueError(f"increment_once takes at most {MAX_ONCE_INCREMENTS} increments per call, not {increments}: split the batch")
    return seconds
