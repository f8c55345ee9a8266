"""A store that cannot be written (Redis down) neither loses counts while it comes back nor grows
the process's memory without end: buckets that ended long ago are given up, records capped."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest
from redis.asyncio import Redis

from aiproxy_analytics.country import CountryOf
from aiproxy_analytics.buckets import bucket_start
from aiproxy_analytics.recorder import Recorder
from aiproxy_analytics.row import Row
from aiproxy_analytics.settings import AnalyticsConfig
from aiproxy_core.state import StateService
from aiproxy_sdk.processes import free_port


async def _countries() -> CountryOf:
    return lambda address, header: "US"


async def test_an_unwritable_store_keeps_memory_bounded(tmp_path: Path, request_row: Callable[..., Row]) -> None:
    nobody = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2, socket_timeout=0.2)
    service = StateService(tmp_path, redis=nobody, prefix="analytics-down")
    service.open()
    await service.start()
    try:
        recorder = Recorder(service.for_plugin("analytics"), AnalyticsConfig(keep_records=True), _countries)
        then = time.time() - 7200
        for _ in range(10):
            recorder.add(request_row(12.5, {"usage": {"input_tokens": 1, "output_tokens": 2}}, at=then))
        assert recorder.held == (10, 0, 0)  # rows, added up at the flush
        with pytest.raises((ConnectionError, OSError, TimeoutError)):
            await recorder.flush()
        # One combination of groups, spread over 3 intervals x 6 dimensions: the minute and hour
        # buckets of two hours ago are given up; the day's is still retried (unless that day
        # ended over 10 minutes ago too). The records wait to be written again.
        day_open = bucket_start("day", then) + 86400 + 600 > time.time()
        assert recorder.held == (0, 6 if day_open else 0, 10)
    finally:
        await service.stop()
        service.close()
        await nobody.aclose()
