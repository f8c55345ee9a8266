"""aiproxy's ``analytics`` plugin: per-request records, and aggregates per minute, hour and day by
consumer, rule, model, status class and country, with latency and TTFT percentiles from DDSketch."""

from .plugin import Analytics

__all__ = ["Analytics"]
