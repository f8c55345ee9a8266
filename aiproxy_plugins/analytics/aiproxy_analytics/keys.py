"""Where aggregates live in the plugin's state values (per tenant, so tenants never meet).

``<interval>:<dimension>:<bucket start, 12 digits>:<group>:<process id>``: zero-padded starts
sort in time order, so a query lists one prefix; the process id is last (hex, no ``:``) and the
group may hold ``:`` (model names do), so a key splits from both ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from .buckets import Interval

__all__ = ["DIMENSIONS", "Dimension", "NO_VALUE", "OTHER", "StoredKey", "aggregate_key", "parse_key", "range_prefix"]

Dimension = Literal["all", "consumer", "rule", "model", "status", "country"]
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)

#: The group of requests without the value (a tenant key has no consumer; no model named).
NO_VALUE = "-"
#: The group past ``max_groups`` distinct values.
OTHER = "other"
#: Longer values are cut: keys stay far below the state API's 512 characters.
MAX_VALUE_CHARS = 200


@dataclass(frozen=True, slots=True)
class StoredKey:
    interval: str
    dimension: str
    bucket: int
    group: str
    process: str


def aggregate_key(interval: Interval, dimension: Dimension, bucket: int, group: str, process: str) -> str:
    return f"{interval}:{dimension}:{bucket:012d}:{group[:MAX_VALUE_CHARS]}:{process}"


def parse_key(key: str) -> StoredKey | None:
    head = key.split(":", 3)
    if len(head) != 4 or not head[2].isdigit():
        return None
    group, _, process = head[3].rpartition(":")
    return StoredKey(head[0], head[1], int(head[2]), group, process)


def range_prefix(interval: Interval, dimension: Dimension, first: int, last: int) -> str:
    """The longest key prefix shared by every bucket from ``first`` to ``last``: the store lists
    only those keys (plus a few neighbours, filtered by the reader)."""
    a, b = f"{first:012d}", f"{last:012d}"
    common = 0
    while common < 12 and a[common] == b[common]:
        common += 1
    return f"{interval}:{dimension}:{a[:common]}"
