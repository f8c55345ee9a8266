"""``GET /metrics``: what the gateway counts per request, and what it reads at scrape time.

See docs/observability.md for every metric, its labels, and how ``--workers N`` adds up.
"""

from .gateway_metrics import GatewayMetrics
from .readings import MetricReading
from .request_metrics import DEFAULT_LABELS, RequestMetrics

__all__ = ["DEFAULT_LABELS", "GatewayMetrics", "MetricReading", "RequestMetrics"]
