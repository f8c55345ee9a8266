"""A latency sketch: DDSketch (Datadog's ``ddsketch``) with a JSON form for the state API.

DDSketch answers any quantile with a *relative* error bound: the value it gives for rank r is
within ``relative_accuracy`` of the exact value at that rank (|y - x| <= a * x), whatever the
distribution, and two sketches with the same accuracy merge losslessly (bin counts add), so
buckets and processes combine with the same bound. ``ddsketch`` serializes through protobuf
only; latencies are never negative, so a sketch here is its positive store's bins plus a zero
count, written as ``{"a": accuracy, "z": zeros, "b": {key: count}}``, built only with the
package's public classes (``LogarithmicMapping``, ``DenseStore``, ``BaseDDSketch``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

from ddsketch.ddsketch import BaseDDSketch
from ddsketch.mapping import LogarithmicMapping
from ddsketch.store import DenseStore

if TYPE_CHECKING:
    import numpy

__all__ = ["DEFAULT_ACCURACY", "LatencySketch", "QUANTILES"]

#: 1 %: p99 of 500 ms is reported within 495-505 ms; ~350 bins cover 1 ms to 60 s.
DEFAULT_ACCURACY = 0.01

#: The percentiles the API reports, by name.
QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}


class LatencySketch:
    """Milliseconds (>= 0) in log-spaced bins; add, merge, quantiles, to and from JSON."""

    __slots__ = ("accuracy", "_mapping", "_store", "_zeros")

    def __init__(self, accuracy: float = DEFAULT_ACCURACY) -> None:
        self.accuracy = accuracy
        self._mapping = LogarithmicMapping(accuracy)
        self._store = DenseStore()
        self._zeros = 0

    @property
    def count(self) -> int:
        return self._zeros + int(self._store.count)

    def add(self, milliseconds: float) -> None:
        if milliseconds > self._mapping.min_possible:
            self._store.add(self._mapping.key(milliseconds), 1)
        else:
            self._zeros += 1

    def add_bins(self, keys: "Iterable[int]", counts: "Iterable[int]", zeros: int = 0) -> None:
        """Add ``counts[i]`` values to bin ``keys[i]`` (keys from :func:`bin_keys`), and ``zeros``."""
        store = self._store
        for key, count in zip(keys, counts):
            store.add(int(key), int(count))
        self._zeros += zeros

    def merge(self, other: "LatencySketch") -> None:
        if other.accuracy != self.accuracy:
            # Bins of different widths do not add: the bound would be lost silently.
            raise ValueError(f"cannot merge sketches of accuracy {other.accuracy} into {self.accuracy}")
        self._store.merge(other._store)
        self._zeros += other._zeros

    def quantiles(self) -> dict[str, float | None]:
        """``{"p50": ..., "p99": ...}`` in ms (rounded to 0.01), None for each when empty."""
        if self.count == 0:
            return {name: None for name in QUANTILES}
        # A fresh view: BaseDDSketch reads the bins, it does not copy them.
        view = BaseDDSketch(self._mapping, self._store, DenseStore(), float(self._zeros))
        return {name: round(float(view.get_quantile_value(q) or 0.0), 2) for name, q in QUANTILES.items()}

    def to_json(self) -> dict[str, Any]:
        bins = {str(index + self._store.offset): int(count) for index, count in enumerate(self._store.bins) if count}
        return {"a": self.accuracy, "z": self._zeros, "b": bins}

    @classmethod
    def from_json(cls, data: Any) -> "LatencySketch":
        """A sketch from :meth:`to_json`; raises ``ValueError`` on anything else."""
        if not isinstance(data, dict) or not isinstance(data.get("b"), dict):
            raise ValueError("not a latency sketch")
        sketch = cls(float(data["a"]))
        bins = data["b"]
        sketch.add_bins(bins.keys(), bins.values(), int(data.get("z", 0)))
        return sketch


def bin_keys(milliseconds: "numpy.ndarray", accuracy: float) -> "tuple[numpy.ndarray, numpy.ndarray]":
    """``(keys, binned)``: each value's bin, as ``LogarithmicMapping(accuracy).key`` gives it (the
    same formula, on a whole batch at once), and which values have one (the rest count as zeros).

    ``key(v) = ceil(log(v) / log(gamma))`` with ``gamma = 1 + 2a / (1 - a)``. A value on a bin's
    edge may land in the neighbouring bin where the package's scalar arithmetic rounds the other
    way; both bins' values are within ``a`` of it, so the bound holds either way.
    """
    import numpy

    mapping = LogarithmicMapping(accuracy)
    binned = milliseconds > mapping.min_possible
    with numpy.errstate(divide="ignore", invalid="ignore"):  # zeros are masked out by ``binned``
        keys = numpy.ceil(numpy.log(milliseconds) / math.log1p(mapping.gamma - 1))
    return numpy.where(binned, keys, 0).astype(numpy.int64), binned
