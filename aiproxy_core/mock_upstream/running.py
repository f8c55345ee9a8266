"""Serve the mock upstream on a real port, for demos and benchmarks against the gateway."""

from __future__ import annotations

import uvicorn

from aiproxy_core.mock_upstream.app import create_mock_upstream

__all__ = ["run_mock_upstream"]


def run_mock_upstream(
    host: str = "127.0.0.1",
    port: int = 9100,
    latency_ms: float = 0,
    error_rate: float = 0.0,
    stream_delay_ms: float = 0,
) -> None:
    """Run the mock until interrupted; quiet logs so benchmark output stays readable."""
    app = create_mock_upstream(latency_ms=latency_ms, error_rate=error_rate, stream_delay_ms=stream_delay_ms)
    print(f"aiproxy mock upstream listening on http://{host}:{port}/v1", flush=True)
    uvicorn.run(app, host=host, port=port, loop="auto", access_log=False, log_level="warning")
