"""The sketch against exact figures: each percentile within the stated relative error, on skewed
and bimodal latencies; merged halves answer as the whole; the JSON form reads back equal."""

from __future__ import annotations

import random

import pytest

from aiproxy_analytics.sketch import QUANTILES, LatencySketch


def _latencies(seed: int, n: int = 5000) -> list[float]:
    rng = random.Random(seed)
    # Long-tailed (lognormal around 80 ms) plus a slow mode at ~900 ms: what upstreams look like.
    return [rng.lognormvariate(4.4, 0.6) if rng.random() < 0.9 else rng.gauss(900, 50) for _ in range(n)]


@pytest.mark.parametrize("accuracy", [0.01, 0.02, 0.05])
def test_percentiles_are_within_the_relative_error(accuracy: float, within_bound) -> None:
    values = _latencies(1)
    sketch = LatencySketch(accuracy)
    for value in values:
        sketch.add(value)
    assert sketch.count == len(values)
    within_bound(sketch.quantiles(), values, accuracy)


def test_merged_halves_answer_as_the_whole(within_bound) -> None:
    values = _latencies(2)
    first, second, whole = LatencySketch(), LatencySketch(), LatencySketch()
    for index, value in enumerate(values):
        (first if index % 2 else second).add(value)
        whole.add(value)
    merged = LatencySketch.from_json(first.to_json())
    merged.merge(LatencySketch.from_json(second.to_json()))
    assert merged.quantiles() == whole.quantiles()
    within_bound(merged.quantiles(), values, 0.01)


def test_zeros_and_empty() -> None:
    sketch = LatencySketch()
    assert sketch.quantiles() == {name: None for name in QUANTILES}
    sketch.add(0.0)
    assert sketch.quantiles()["p50"] == 0.0
    assert LatencySketch.from_json(sketch.to_json()).count == 1


def test_sketches_of_other_accuracies_do_not_merge() -> None:
    with pytest.raises(ValueError, match="accuracy"):
        LatencySketch(0.01).merge(LatencySketch(0.02))
    with pytest.raises(ValueError):
        LatencySketch.from_json({"nonsense": 1})
