"""Figures for the README, printed and not asserted (timings depend on the machine):

* the plugin's added latency per chat request (median of the same request with and without the
  rag entry, through the in-process gateway over the mock upstream);
* embedding throughput under 32 concurrent requests: the shared batched embedder against one
  forward pass per text.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import pytest

from aiproxy_embeddings import Embedder

ROUNDS = 40


async def _median_ms(gateway: Any, question: str) -> float:
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        response = await gateway.chat(question)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(timings)


@pytest.mark.slow
async def test_added_latency_per_request(rag_gateway: Any, knowledge: Any) -> None:
    gateway = await rag_gateway()
    api = knowledge(gateway)
    kb = (await api.create())["id"]
    for i in range(20):
        await api.add_text(kb, f"Policy {i}: employees in office {i} may work remotely on {['Mondays', 'Fridays'][i % 2]}.")
    question = "Can people in office 7 work from home on Fridays?"
    await gateway.chat(question)  # warm the route and the model
    without = await _median_ms(gateway, question)
    await gateway.set_chain([{"name": "rag", "settings": {"knowledge_base": kb}}])
    await gateway.chat(question)  # loads the index once
    with_rag = await _median_ms(gateway, question)
    print(f"\n[rag latency] median per request: without {without:.2f} ms, with rag {with_rag:.2f} ms, added {with_rag - without:.2f} ms")


@pytest.mark.slow
async def test_embedding_throughput_under_32_concurrent_requests() -> None:
    embedder = Embedder.shared()
    texts = [f"Question number {i}: how long does the warranty on product {i} last?" for i in range(32)]
    await embedder.embed(texts[:2])  # model loaded

    started = time.perf_counter()
    await asyncio.gather(*(embedder.embed([text]) for text in texts))
    batched = time.perf_counter() - started

    started = time.perf_counter()
    for text in texts:  # one request at a time: each is a forward pass of its own
        await embedder.embed([text])
    one_by_one = time.perf_counter() - started
    print(
        f"\n[rag embeddings] 32 concurrent requests: batched {32 / batched:.0f} texts/s ({batched * 1000:.0f} ms), "
        f"one at a time {32 / one_by_one:.0f} texts/s ({one_by_one * 1000:.0f} ms), x{one_by_one / batched:.1f}"
    )
