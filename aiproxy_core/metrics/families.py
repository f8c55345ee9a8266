"""Figures and readings as prometheus_client metric families (which write the exposition)."""

from __future__ import annotations

import logging
from typing import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from .readings import MetricReading
from .request_metrics import MergedFigures

__all__ = ["figure_families", "reading_families"]

logger = logging.getLogger("aiproxy.metrics")

#: (attribute, name, help) of each per-request histogram; names follow the OpenTelemetry GenAI
#: conventions where one exists (``gen_ai.server.request.duration`` -> ``gen_ai_server_request_duration_seconds``).
_HISTOGRAMS = (
    ("duration", "gen_ai_server_request_duration_seconds", "Time from a request's arrival to its answer's last byte."),
    ("upstream", "gen_ai_client_operation_duration_seconds", "Time the accepted upstream attempt took to answer (its head)."),
    ("overhead", "aiproxy_gateway_overhead_seconds", "Time the gateway added to a plain answer: the request's duration less the upstream's."),
    ("ttft", "gen_ai_server_time_to_first_token_seconds", "Time from a streamed request's arrival to its first byte sent to the client."),
)


def figure_families(figures: MergedFigures) -> Iterator[Metric]:
    labels = list(figures.labels)
    series = figures.series
    requests = CounterMetricFamily("aiproxy_requests", "Requests the Proxy API answered (or the client left), by status class.", labels=labels)
    cost = CounterMetricFamily("aiproxy_cost_usd", "The upstreams' cost of the answered requests in USD, from the price table.", labels=labels)
    for key, figure in series.items():
        values = list(key)
        requests.add_metric(values, figure.requests)
        if figure.cost:
            cost.add_metric(values, figure.cost)
    yield requests
    yield cost
    for attribute, name, documentation in _HISTOGRAMS:
        family = HistogramMetricFamily(name, documentation, labels=labels)
        for key, figure in series.items():
            histogram = figure.histogram(attribute)
            if histogram.count:
                family.add_metric(list(key), histogram.cumulative(), histogram.total)
        yield family
    tokens = HistogramMetricFamily(
        "gen_ai_client_token_usage", "Tokens per request the upstream reported, by gen_ai_token_type (input, output).", labels=[*labels, "gen_ai_token_type"]
    )
    for key, figure in series.items():
        for token_type, histogram in (("input", figure.input_tokens), ("output", figure.output_tokens)):
            if histogram.count:
                tokens.add_metric([*key, token_type], histogram.cumulative(), histogram.total)
    yield tokens
    yield _counts("aiproxy_gateway_errors", "The gateway's own error answers, by their stable code.", ["tenant", "rule", "code"], figures.errors.items())
    limited = ((key[:2], count) for key, count in figures.errors.items() if key[2] == "rate_limited")
    yield _counts("aiproxy_rate_limited", "Requests refused for a rate limit (code rate_limited, 429).", ["tenant", "rule"], limited)
    yield _counts("aiproxy_cache_hits", "Answers served by the cache plugin, by kind (hit, semantic).", ["tenant", "rule", "kind"], figures.cache_hits.items())
    yield _counts(
        "aiproxy_interrupted",
        "Answers that did not reach the client whole, by who broke off (client, upstream).",
        ["tenant", "rule", "by"],
        figures.interrupted.items(),
    )


def _counts(name: str, documentation: str, labels: list[str], counts: Iterable[tuple[tuple[str, ...], int]]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    merged: dict[tuple[str, ...], int] = {}
    for key, count in counts:
        merged[key] = merged.get(key, 0) + count
    for key, count in merged.items():
        family.add_metric(list(key), count)
    return family


def reading_families(readings: Iterable[MetricReading], source: str) -> list[Metric]:
    """Readings grouped by name; one that breaks the rules (or disagrees with its first) is
    left out and logged, so a plugin's mistake never breaks the scrape."""
    families: dict[str, tuple[MetricReading, Metric]] = {}
    for reading in readings:
        problem = reading.problem() if isinstance(reading, MetricReading) else f"a {type(reading).__name__}, not a MetricReading"
        if problem is not None:
            logger.warning("metrics: a reading of %s was left out: %s", source, problem)
            continue
        kept = families.get(reading.name)
        if kept is None:
            names = list(reading.labels)
            family: Metric
            if reading.kind == "counter":
                family = CounterMetricFamily(reading.name.removesuffix("_total"), reading.help, labels=names)
            else:
                family = GaugeMetricFamily(reading.name, reading.help, labels=names)
            kept = families[reading.name] = (reading, family)
        first, family = kept
        if list(reading.labels) != list(first.labels) or reading.kind != first.kind:
            logger.warning("metrics: a reading of %s was left out: %s has other labels or kind than its first reading", source, reading.name)
            continue
        family.add_metric(list(reading.labels.values()), reading.value)  # type: ignore[attr-defined]
    return [family for _, family in families.values()]
