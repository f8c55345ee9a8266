"""One group's figures in one bucket: exact counts and sums, and latency and TTFT sketches.

Each gateway process writes its own aggregate of a bucket and group (the whole of what it saw in
that bucket, overwritten every flush), so processes never contend for a key; a reader adds them
up: counts add, sketches merge with the same error bound.
"""

from __future__ import annotations

from typing import Any

from .sketch import DEFAULT_ACCURACY, LatencySketch

__all__ = ["Aggregate", "COUNT_FIELDS"]

#: Exact sums, in this order in the JSON form. Cost is integer micro-dollars, so sums stay exact.
COUNT_FIELDS = ("requests", "errors", "input_tokens", "output_tokens", "cost_micros", "request_bytes",
                "response_bytes", "interrupted", "cache_hits", "flagged")


class Aggregate:
    __slots__ = ("counts", "latency", "ttft")

    def __init__(self, accuracy: float = DEFAULT_ACCURACY) -> None:
        self.counts = dict.fromkeys(COUNT_FIELDS, 0)
        self.latency = LatencySketch(accuracy)
        self.ttft = LatencySketch(accuracy)

    def merge(self, other: "Aggregate") -> None:
        for name, value in other.counts.items():
            self.counts[name] = self.counts.get(name, 0) + value
        self.latency.merge(other.latency)
        self.ttft.merge(other.ttft)

    def to_json(self) -> dict[str, Any]:
        return {"c": [self.counts[name] for name in COUNT_FIELDS], "l": self.latency.to_json(), "t": self.ttft.to_json()}

    @classmethod
    def from_json(cls, data: Any) -> "Aggregate":
        if not isinstance(data, dict) or not isinstance(data.get("c"), list):
            raise ValueError("not an analytics aggregate")
        aggregate = cls.__new__(cls)
        aggregate.counts = dict(zip(COUNT_FIELDS, (int(value) for value in data["c"])))
        for name in COUNT_FIELDS[len(aggregate.counts):]:
            aggregate.counts[name] = 0  # written by an older version with fewer fields
        aggregate.latency = LatencySketch.from_json(data["l"])
        aggregate.ttft = LatencySketch.from_json(data["t"])
        return aggregate
