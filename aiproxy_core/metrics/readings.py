"""Values read when ``GET /metrics`` is scraped, not counted per request: a queue's backlog, a
circuit's state. They come from the shared store, so every worker or process reports the same."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Mapping

__all__ = ["METRIC_NAME", "MetricReading"]

#: Prometheus's rule for metric and label names (no leading ``__``: reserved).
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


@dataclass(frozen=True, slots=True)
class MetricReading:
    """One value for ``GET /metrics``, as a plugin's ``metric_readings`` hook returns it.

    ``name`` follows Prometheus's rules (a counter's ends in ``_total``); ``labels`` are a few
    bounded values (never a consumer's key or anything a client chose); readings that share a
    name share their ``help``, ``kind`` and label names.
    """

    name: str
    help: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)
    kind: Literal["gauge", "counter"] = "gauge"

    def problem(self) -> str | None:
        """What is wrong with this reading, or None."""
        if not METRIC_NAME.fullmatch(self.name) or self.name.startswith("__"):
            return f"{self.name!r} is not a Prometheus metric name"
        if self.kind not in ("gauge", "counter"):
            return f"kind is 'gauge' or 'counter', not {self.kind!r}"
        if self.kind == "counter" and not self.name.endswith("_total"):
            return f"counter {self.name!r} must end in _total"
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            return f"the value of {self.name!r} is a number, not {type(self.value).__name__}"
        for label, value in self.labels.items():
            if not METRIC_NAME.fullmatch(label) or label.startswith("__") or ":" in label:
                return f"{label!r} is not a Prometheus label name"
            if not isinstance(value, str):
                return f"label {label!r} of {self.name!r} is text, not {type(value).__name__}"
        return None
