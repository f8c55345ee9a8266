"""Added latency of the moderation plugin per request: median of N sequential ``gw.chat`` calls.

    .venv/bin/python aiproxy_plugins/moderation/bench/latency.py [N]

Same process, same mock upstream, same run: one gateway without the plugin, then one per
configuration with it. Models are warmed before timing (they load once per process).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiproxy_core.mock_upstream import create_mock_upstream
from aiproxy_moderation import plugin
from aiproxy_sdk import GatewayHarness, ServerThread

PROMPT = "Hello, I am ann@example.com; how do I kill a Python process that hangs?"
CONFIGS: dict[str, list[dict[str, Any]]] = {
    "no plugin": [],
    "moderation defaults (profanity + PII, prompt and answer)": [{"name": "moderation"}],
    "prompt only (profanity + PII)": [{"name": "moderation", "settings": {"check_answer": False}}],
    "PII only": [{"name": "moderation", "settings": {"actions": {"harassment": "off"}}}],
    "defaults + 3 deny topics": [
        {"name": "moderation", "settings": {"deny_topics": ["competitor pricing", "election politics", "medical diagnosis"]}}
    ],
}


async def median_ms(gw: GatewayHarness, count: int) -> float:
    for _ in range(10):  # warm: models, connection pool, caches
        assert (await gw.chat(PROMPT)).status_code == 200
    times = []
    for _ in range(count):
        start = time.perf_counter()
        response = await gw.chat(PROMPT)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return statistics.median(times)


async def main(count: int) -> None:
    with ServerThread(create_mock_upstream()) as upstream, tempfile.TemporaryDirectory() as tmp:
        baseline = None
        for index, (label, chain) in enumerate(CONFIGS.items()):
            data_dir = Path(tmp) / str(index)
            data_dir.mkdir()
            gw = await GatewayHarness.start(upstream, data_dir, plugins={"moderation": plugin}, chain=chain)
            try:
                median = await median_ms(gw, count)
            finally:
                await gw.close()
            baseline = median if baseline is None else baseline
            print(f"{label:58} median {median:7.2f} ms  added {median - baseline:+7.2f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
