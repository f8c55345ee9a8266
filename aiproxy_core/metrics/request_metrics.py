"""What each proxied request adds to ``GET /metrics``: counts, latencies, tokens and cost.

Recorded once per request, after its last byte was sent, into plain Python numbers of this
process (a dict lookup and a few additions); ``GET /metrics`` turns them into the exposition.
With ``aiproxy serve --workers N`` each worker also publishes its figures for the others
(:mod:`.worker_files`), so whichever worker answers a scrape reports them all.

Labels are bounded: ``tenant`` and ``rule`` are ids the operator's tenants created,
``gen_ai_request_model`` is a name the gateway knows or ``other`` (:mod:`.model_label`), and
``status_class`` is ``2xx``..``5xx``. A consumer label is opt-in (``metrics.labels``). Past
``metrics.max_series`` label sets, new ones are counted together under ``other``.
"""

from __future__ import annotations

import logging
import re
import time
from bisect import bisect_left
from typing import TYPE_CHECKING, Any, Iterable

from ..routing.cost import COST_ANNOTATION
from ..state_keys import INTERRUPTED, TTFT_MS, UPSTREAM_MS, USAGE
from .histogram import DURATION_BUCKETS, OVERHEAD_BUCKETS, TOKEN_BUCKETS, TTFT_BUCKETS, Histogram
from .model_label import ModelLabels

if TYPE_CHECKING:
    from ..config import MetricsConfig
    from ..context import ProxyResponse, RequestContext

__all__ = ["DEFAULT_LABELS", "HISTOGRAMS", "RequestMetrics", "Series", "status_class"]

logger = logging.getLogger("aiproxy.metrics")

#: Each histogram of a label set: its attribute, and its buckets.
HISTOGRAMS: dict[str, tuple[float, ...]] = {
    "duration": DURATION_BUCKETS,
    "upstream": DURATION_BUCKETS,
    "overhead": OVERHEAD_BUCKETS,
    "ttft": TTFT_BUCKETS,
    "input_tokens": TOKEN_BUCKETS,
    "output_tokens": TOKEN_BUCKETS,
}

#: The per-request labels unless ``metrics.labels`` says otherwise (never consumer or key).
DEFAULT_LABELS = ("tenant", "rule", "model", "status_class")

#: An error ``code`` is a label only if it looks like one (codes are constants in the core and in
#: installed plugins; this keeps a plugin that built one from input from growing the label set).
_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_CACHE_KINDS = frozenset({"hit", "semantic"})
_INTERRUPTED_BY = frozenset({"client", "upstream"})
_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
#: Entries of the series lookup cache before it starts over.
_MAX_SEEN = 10_000


def status_class(status: int) -> str:
    return _STATUS_CLASSES.get(status // 100, "other")


class Series:
    """The figures of one label set."""

    __slots__ = ("requests", "cost", "duration", "upstream", "overhead", "ttft", "input_tokens", "output_tokens")

    def __init__(self) -> None:
        self.requests = 0
        self.cost = 0.0
        self.duration = Histogram(DURATION_BUCKETS)
        self.upstream = Histogram(DURATION_BUCKETS)
        self.overhead = Histogram(OVERHEAD_BUCKETS)
        self.ttft = Histogram(TTFT_BUCKETS)
        self.input_tokens = Histogram(TOKEN_BUCKETS)
        self.output_tokens = Histogram(TOKEN_BUCKETS)

    def histogram(self, name: str) -> Histogram:
        histogram: Histogram = getattr(self, name)
        return histogram

    def data(self) -> dict[str, Any]:
        figures: dict[str, Any] = {"requests": self.requests, "cost": self.cost}
        for name in HISTOGRAMS:
            histogram = self.histogram(name)
            figures[name] = [histogram.counts, histogram.total]
        return figures

    def merge(self, data: dict[str, Any]) -> None:
        self.requests += int(data.get("requests", 0))
        self.cost += float(data.get("cost", 0.0))
        for name in HISTOGRAMS:
            counts, total = data.get(name) or ([], 0.0)
            self.histogram(name).merge(counts, total)


class RequestMetrics:
    """This process's figures; :meth:`record` is called by the Proxy API for every request."""

    def __init__(self, config: MetricsConfig, models: ModelLabels) -> None:
        #: The label names of the per-request series, in order.
        self.labels: tuple[str, ...] = tuple("gen_ai_request_model" if name == "model" else name for name in config.labels)
        self._order = tuple(config.labels)
        self._default = self._order == DEFAULT_LABELS
        self._with_model = "model" in self._order
        self._models = models
        self._max_series = config.max_series
        self._overflow: tuple[str, ...] = ("other",) * len(self.labels)
        self.series: dict[tuple[str, ...], Series] = {}
        #: ``(tenant, rule, code)`` -> count of the gateway's own error answers.
        self.errors: dict[tuple[str, str, str], int] = {}
        #: ``(tenant, rule, kind)`` -> answers a cache served.
        self.cache_hits: dict[tuple[str, str, str], int] = {}
        #: ``(tenant, rule, by)`` -> answers that did not reach the client whole.
        self.interrupted: dict[tuple[str, str, str], int] = {}
        #: ``(id(tenant), id(rule), model the body named, status)`` -> (tenant, rule, its series), with
        #: the default labels: a request like an earlier one finds its series with one lookup, not
        #: by resolving its model label again. The tenant and rule objects are kept and compared,
        #: so an edited tenant (its prices) or rule (its targets' models), a new object, misses;
        #: and series are never dropped, so a cached one is always the one a scrape reads.
        self._seen: dict[tuple[int, int, str | None, int], tuple[object, object, Series]] = {}

    def record(self, started: float, status: int, tenant_id: str, ctx: RequestContext | None, response: ProxyResponse | None) -> None:
        """Add one finished request; never raises (metrics must not break a request)."""
        try:
            self._record(time.perf_counter() - started, status, tenant_id, ctx, response)
        except Exception:
            logger.debug("could not record the metrics of a request", exc_info=True)

    def _record(self, duration: float, status: int, tenant_id: str, ctx: RequestContext | None, response: ProxyResponse | None) -> None:
        rule_id = ctx.rule.id if ctx is not None else ""
        if ctx is not None and self._default:
            tenant, rule = ctx.tenant, ctx.rule
            seen_key = (id(tenant), id(rule), ctx.request.model, status)
            seen = self._seen.get(seen_key)
            if seen is not None and seen[0] is tenant and seen[1] is rule:
                series = seen[2]
            else:
                series = self._series(self._key(tenant_id, rule_id, status, ctx))
                if len(self._seen) >= _MAX_SEEN:
                    self._seen.clear()
                self._seen[seen_key] = (tenant, rule, series)
        else:
            series = self._series(self._key(tenant_id, rule_id, status, ctx))
        series.requests += 1
        # Histogram.observe written out here, where five run per request (a method call each
        # cost as much as the observation).
        histogram = series.duration
        histogram.counts[bisect_left(DURATION_BUCKETS, duration)] += 1
        histogram.total += duration
        code = getattr(response, "error_code", None)
        if code is not None:
            code_key = (tenant_id, rule_id, code if _CODE.fullmatch(code) else "other")
            self.errors[code_key] = self.errors.get(code_key, 0) + 1
        if ctx is None:
            return
        annotations = ctx.annotations
        upstream_ms = annotations.get(UPSTREAM_MS)
        if upstream_ms is not None:
            upstream = upstream_ms / 1000
            histogram = series.upstream
            histogram.counts[bisect_left(DURATION_BUCKETS, upstream)] += 1
            histogram.total += upstream
            if response is not None and response.stream is None:  # a stream's duration is its length, not overhead
                overhead = max(0.0, duration - upstream)
                histogram = series.overhead
                histogram.counts[bisect_left(OVERHEAD_BUCKETS, overhead)] += 1
                histogram.total += overhead
        ttft = annotations.get(TTFT_MS)
        if ttft is not None:
            series.ttft.observe(ttft / 1000)
        usage = annotations.get(USAGE)
        if usage:
            for histogram, tokens in ((series.input_tokens, usage.get("input_tokens") or 0), (series.output_tokens, usage.get("output_tokens") or 0)):
                histogram.counts[bisect_left(TOKEN_BUCKETS, tokens)] += 1
                histogram.total += tokens
        cost = annotations.get(COST_ANNOTATION)
        if cost:
            series.cost += cost
        cache = annotations.get("cache")
        if cache is not None:
            cache_key = (tenant_id, rule_id, cache if cache in _CACHE_KINDS else "other")
            self.cache_hits[cache_key] = self.cache_hits.get(cache_key, 0) + 1
        interrupted = annotations.get(INTERRUPTED)
        if interrupted is not None:
            by_key = (tenant_id, rule_id, interrupted if interrupted in _INTERRUPTED_BY else "other")
            self.interrupted[by_key] = self.interrupted.get(by_key, 0) + 1

    def _key(self, tenant_id: str, rule_id: str, status: int, ctx: RequestContext | None) -> tuple[str, ...]:
        model = self._models.of(ctx) if ctx is not None and self._with_model else ""
        if self._default:  # the common case, without building a dict
            return (tenant_id, rule_id, model, status_class(status))
        values = {"tenant": tenant_id, "rule": rule_id, "model": model, "status_class": status_class(status)}
        values["consumer"] = (ctx.consumer_id or "") if ctx is not None else ""
        return tuple(values[name] for name in self._order)

    def _series(self, key: tuple[str, ...]) -> Series:
        series = self.series.get(key)
        if series is not None:
            return series
        if len(self.series) >= self._max_series:
            if self._overflow not in self.series:
                logger.warning("metrics: more than metrics.max_series=%d label sets; new ones are counted under 'other'", self._max_series)
            key = self._overflow
            series = self.series.get(key)
            if series is not None:
                return series
        series = self.series[key] = Series()
        return series

    # What other workers need of this one, and how their figures join it.

    def snapshot(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "series": [[list(key), series.data()] for key, series in self.series.items()],
            "errors": _pairs(self.errors),
            "cache_hits": _pairs(self.cache_hits),
            "interrupted": _pairs(self.interrupted),
        }

    @classmethod
    def merged(cls, snapshots: Iterable[dict[str, Any]]) -> MergedFigures:
        figures = MergedFigures()
        for snapshot in snapshots:
            figures.add(snapshot)
        return figures


class MergedFigures:
    """Several processes' snapshots added up (what a scrape reports)."""

    def __init__(self) -> None:
        self.labels: tuple[str, ...] = ()
        self.series: dict[tuple[str, ...], Series] = {}
        self.errors: dict[tuple[str, ...], int] = {}
        self.cache_hits: dict[tuple[str, ...], int] = {}
        self.interrupted: dict[tuple[str, ...], int] = {}
        self.processes = 0

    def add(self, snapshot: dict[str, Any]) -> None:
        labels = tuple(snapshot.get("labels") or ())
        if self.processes and labels != self.labels:  # a worker of another configuration: not comparable
            return
        self.labels = labels
        self.processes += 1
        for key, data in snapshot.get("series", ()):
            series = self.series.get(tuple(key))
            if series is None:
                series = self.series[tuple(key)] = Series()
            series.merge(data)
        for name in ("errors", "cache_hits", "interrupted"):
            counts: dict[tuple[str, ...], int] = getattr(self, name)
            for key, count in snapshot.get(name, ()):
                counts[tuple(key)] = counts.get(tuple(key), 0) + int(count)


def _pairs(counts: dict[tuple[str, str, str], int]) -> list[list[Any]]:
    return [[list(key), count] for key, count in counts.items()]
