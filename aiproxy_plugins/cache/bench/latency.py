"""What the cache adds to a request: median latency of a miss and of a hit, exact and semantic.

    .venv/bin/python aiproxy_plugins/cache/bench/latency.py [--requests 60] [--redis]

One in-process gateway (httpx over ASGI, as the SDK tests run it) in front of the mock upstream
on a real port; requests are sequential, so figures are latency, not throughput. "added" is the
median minus the median of the same gateway without the cache entry.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiproxy_cache import Cache
from aiproxy_core.mock_upstream import create_mock_upstream
from aiproxy_sdk import GatewayHarness, ServerThread

PROMPTS = [
    "How do I reverse a list in Python?",
    "What is the capital of France?",
    "Explain the difference between TCP and UDP.",
    "Write a haiku about the sea.",
]


async def _median_ms(harness: GatewayHarness, cache: Cache | None, contents: list[str]) -> float:
    times = []
    for content in contents:
        started = time.perf_counter()
        response = await harness.chat(content)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
        if cache is not None:
            await cache.idle()  # the write is off the request path; keep it out of the next sample
    return statistics.median(times)


def _unique(count: int) -> list[str]:
    return [f"{PROMPTS[i % len(PROMPTS)]} ({uuid.uuid4().hex[:8]})" for i in range(count)]


async def main(requests: int, redis: bool) -> None:
    backend = {"host": "127.0.0.1", "port": 6379, "prefix": f"bench-cache-{uuid.uuid4().hex[:8]}"} if redis else None
    with ServerThread(create_mock_upstream()) as upstream, tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a").mkdir()
        plain = await GatewayHarness.start(upstream, Path(tmp) / "a", redis=backend)
        rows: list[tuple[str, float]] = []
        try:
            await _median_ms(plain, None, _unique(10))  # warm the pools
            baseline = await _median_ms(plain, None, _unique(requests))
            rows.append(("no cache entry", baseline))
            for semantic in (False, True):
                cache = Cache()
                directory = Path(tmp) / f"s{semantic}"
                directory.mkdir()
                gw = await GatewayHarness.start(
                    upstream, directory, plugins={"cache": cache}, chain=[{"name": "cache", "settings": {"semantic": semantic}}], redis=backend
                )
                try:
                    await _median_ms(gw, cache, _unique(5))  # warm up (and load the model)
                    mode = "semantic" if semantic else "exact"
                    misses = _unique(requests)
                    rows.append((f"{mode}: miss", await _median_ms(gw, cache, misses)))
                    rows.append((f"{mode}: hit (exact key)", await _median_ms(gw, cache, misses)))
                    if semantic:
                        # Same question, different wording each time: served by the semantic index.
                        await _median_ms(gw, cache, ["How do I reverse a list in Python?"])
                        rows.append(
                            (f"{mode}: hit (paraphrase)", await _median_ms(gw, cache, ["How can I reverse a list in Python?"] * requests))
                        )
                finally:
                    await gw.close()
        finally:
            await plain.close()
        if backend is not None:
            from aiproxy_sdk.redis_space import drop_prefix

            drop_prefix(backend["prefix"])
    print(f"backend: {'redis' if redis else 'embedded (memory)'}, {requests} sequential requests each, medians")
    print(f"{'case':32} {'median ms':>10} {'added ms':>10}")
    for name, value in rows:
        print(f"{name:32} {value:10.2f} {value - baseline:+10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--redis", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.redis))
