"""A flush's rows added up in one batch: each combination of groups gets exact sums and its own
latency bins, and an annotation a plugin got wrong counts as nothing instead of breaking the flush."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from aiproxy_analytics.batch import aggregates_of, records_of
from aiproxy_analytics.row import Row
from aiproxy_analytics.sketch import LatencySketch

MINUTE = 1_800_000_000.0  # a minute's start
REQUEST_BYTES = 72  # the body of request_row's requests


@pytest.fixture
def _row(request_row: Callable[..., Row]) -> Callable[..., Row]:
    def row(latency: float, annotations: dict[str, Any], **options: Any) -> Row:
        return request_row(latency, annotations, **{"at": MINUTE + 5, **options})

    return row


def _countries(address: str | None, header: str | None) -> str:
    return {"8.8.8.8": "US", "1.1.1.1": "AU"}.get(address or "", "unknown")


def test_each_combination_gets_its_own_sums_and_bins(_row: Callable[..., Row]) -> None:
    usage = {"usage": {"input_tokens": 10, "output_tokens": 5}, "cost": 0.0000015}
    rows = [_row(10.0 + n, usage) for n in range(50)]
    rows += [_row(500.0, {**usage, "ttft_ms": 40.0}, consumer=None, ip="1.1.1.1") for _ in range(3)]
    rows += [_row(20.0, {"interrupted": "upstream"}, status=200), _row(30.0, {}, status=503, at=MINUTE + 65)]
    aggregates = aggregates_of(rows, _countries, 0.01)
    by_key = {(consumer, country, status, minute - int(MINUTE)): a for (_, minute, consumer, _, _, status, country), a in aggregates.items()}
    assert set(by_key) == {("c1", "US", "2xx", 0), ("-", "AU", "2xx", 0), ("c1", "US", "5xx", 60)}
    first = by_key[("c1", "US", "2xx", 0)].counts
    assert (first["requests"], first["errors"], first["interrupted"], first["input_tokens"], first["output_tokens"]) == (51, 1, 1, 500, 250)
    assert first["cost_micros"] == 50 * 2  # each request's 1.5 micro-dollars rounded (to even) first, as one request's is
    assert (first["request_bytes"], first["response_bytes"]) == (51 * REQUEST_BYTES, 51 * 400)
    expected = LatencySketch(0.01)
    for value in [10.0 + n for n in range(50)] + [20.0]:
        expected.add(value)
    measured = by_key[("c1", "US", "2xx", 0)].latency.quantiles()
    assert measured == pytest.approx(expected.quantiles())
    slow = by_key[("-", "AU", "2xx", 0)]
    assert slow.latency.count == 3 and slow.ttft.count == 3 and abs(slow.ttft.quantiles()["p50"] - 40.0) <= 0.4
    assert by_key[("c1", "US", "5xx", 60)].counts["errors"] == 1


def test_a_plugins_bad_annotation_counts_as_nothing(_row: Callable[..., Row]) -> None:
    rows = [
        _row(10.0, {"usage": {"input_tokens": "many", "output_tokens": -3}, "cost": "free", "ttft_ms": "soon", "cache": ["hit"]}),
        _row(12.0, {"usage": "lots", "cost": float("inf"), "moderation": {"flagged": "yes"}}),
        _row(14.0, {"usage": {"input_tokens": 7, "output_tokens": 2}, "cost": 0.001, "moderation": {"flagged": ["violence"]}}),
    ]
    (aggregate,) = aggregates_of(rows, _countries, 0.01).values()
    counts = aggregate.counts
    assert (counts["requests"], counts["input_tokens"], counts["output_tokens"], counts["cost_micros"]) == (3, 7, 2, 1000)
    assert (counts["cache_hits"], counts["flagged"], aggregate.ttft.count) == (0, 1, 0)
    records = records_of(rows, _countries)
    assert [record.moderation_flags for record in records] == [[], [], ["violence"]]
    assert [record.country for record in records] == ["US", "US", "US"]
