"""Checks shared by both queue backends: group and worker names, claim arguments.

Group names end up inside Redis fields (``<group> <entry id>``), hence no spaces.
"""

from __future__ import annotations

import math

__all__ = ["MAX_NAME_LENGTH", "check_claim", "checked_name"]

MAX_NAME_LENGTH = 200


def checked_name(kind: str, name: str) -> str:
    """A group or worker name as given, or a ValueError saying what is wrong with it."""
    if not isinstance(name, str) or not name or "\x00" in name or " " in name or len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"a queue {kind} name is 1-{MAX_NAME_LENGTH} characters without NUL or spaces, not {name!r:.80}")
    return name


def check_claim(count: int, reclaim_after: float) -> None:
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"claim count is a positive integer, not {count!r:.40}")
    if not isinstance(reclaim_after, (int, float)) or not math.isfinite(reclaim_after) or reclaim_after < 0:
        raise ValueError(f"claim reclaim_after is a number of seconds >= 0, not {reclaim_after!r:.40}")

