"""A gateway's metrics: the per-request figures, their sharing between workers, and the scrape."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Iterable

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from ..chain.executor import post_response_failures
from .families import figure_families, reading_families
from .model_label import ModelLabels
from .readings import MetricReading
from .request_metrics import RequestMetrics
from .worker_files import PUBLISH_SECONDS, WorkerFiles

if TYPE_CHECKING:
    from ..config import MetricsConfig
    from ..routing import RequestCost

__all__ = ["GatewayMetrics"]

logger = logging.getLogger("aiproxy.metrics")


class GatewayMetrics:
    def __init__(self, config: MetricsConfig, cost: RequestCost, version: str, files: WorkerFiles | None = None) -> None:
        self.requests = RequestMetrics(config, ModelLabels(cost))
        #: Set under ``aiproxy serve --workers N``: where the workers share their figures.
        self.files = files if files is not None else WorkerFiles.from_environment()
        self.version = version
        self._publisher: asyncio.Task[None] | None = None

    def snapshot(self) -> dict[str, Any]:
        snapshot = self.requests.snapshot()
        snapshot["post_response_failures"] = [[[plugin], count] for plugin, count in post_response_failures.items()]
        return snapshot

    # Workers: publish this one's figures while it runs.

    def start(self) -> None:
        if self.files is not None and self._publisher is None:
            self._publisher = asyncio.get_running_loop().create_task(self._publish_every_second())

    async def stop(self) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
            self._publisher = None
            self._publish()  # what it served since the last write

    async def _publish_every_second(self) -> None:
        while True:
            await asyncio.sleep(PUBLISH_SECONDS)
            self._publish()

    def _publish(self) -> None:
        if self.files is None:
            return
        try:
            self.files.publish(self.snapshot())
        except OSError as exc:  # a full disk must not stop the worker serving
            logger.warning("metrics: could not write this worker's figures: %s", exc)

    # The scrape.

    def render(self, readings: Iterable[tuple[str, list[MetricReading]]], accept: str | None) -> tuple[bytes, str]:
        """The exposition (Prometheus text, or OpenMetrics when ``accept`` asks for it) of every
        worker's figures and the scrape-time readings, each list named by where it came from."""
        snapshots = [self.snapshot()]
        if self.files is not None:
            snapshots += self.files.others()
        figures = RequestMetrics.merged(snapshots)
        families: list[Metric] = list(figure_families(figures))
        failures = CounterMetricFamily("aiproxy_post_response_failures", "post_response hook calls that raised, by plugin.", labels=["plugin"])
        counted: dict[str, int] = {}
        for snapshot in snapshots:
            for (plugin,), count in snapshot.get("post_response_failures", ()):
                counted[plugin] = counted.get(plugin, 0) + count
        for plugin, count in counted.items():
            failures.add_metric([plugin], count)
        families.append(failures)
        for source, found in readings:
            families += reading_families(found, source)
        info = GaugeMetricFamily("aiproxy_build_info", "The running aiproxy version (always 1).", labels=["version"])
        info.add_metric([self.version], 1)
        families.append(info)
        workers = GaugeMetricFamily("aiproxy_metrics_processes", "Gateway processes whose figures this scrape adds up.")
        workers.add_metric([], figures.processes)
        families.append(workers)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families(families))
        if self.files is None:  # one process: its CPU and memory are the gateway's
            registry.register(ProcessCollector(registry=None))
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type


class _Families:
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families
