"""Semantic caching with the real embedding model, embedded (memory) and on Redis."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

SEMANTIC = {"semantic": True}


async def test_a_paraphrase_is_served_from_the_cache(cached_gateway: Any, upstream: Any) -> None:
    gw = await cached_gateway(SEMANTIC)
    first = await gw.chat("How do I reverse a list in Python?")
    assert first.headers["x-cache"] == "MISS"
    before = upstream.chat_calls
    paraphrase = await gw.chat("How can I reverse a list in Python?")
    assert paraphrase.status_code == 200
    assert paraphrase.headers["x-cache"] == "SEMANTIC"
    assert upstream.chat_calls == before
    assert paraphrase.json()["choices"][0]["message"]["content"] == "You said: How do I reverse a list in Python?"
    # The exact key still wins first, and the paraphrase itself was not stored as a new answer.
    assert (await gw.chat("How do I reverse a list in Python?")).headers["x-cache"] == "HIT"


async def test_a_paraphrase_streams_from_the_cache(cached_gateway: Any, upstream: Any, sse_answer: Any) -> None:
    gw = await cached_gateway(SEMANTIC)
    await gw.chat("How do I reverse a list in Python?", stream=True)
    streamed = await gw.chat("How can I reverse a list in Python?", stream=True)
    assert streamed.headers["x-cache"] == "SEMANTIC"
    assert sse_answer(streamed.text)["content"] == "You said: How do I reverse a list in Python?"


@pytest.mark.parametrize(
    ("cached", "asked"),
    [
        ("How many km is 10 miles?", "How many miles is 10 km?"),
        ("Convert 10 miles to km", "Convert 10 km to miles"),
        ("How many km is 10 miles?", "How many km is 12 miles?"),
        ("Is Python a compiled language?", "Is Python not a compiled language?"),
    ],
)
async def test_near_misses_never_hit(cached_gateway: Any, upstream: Any, cached: str, asked: str) -> None:
    gw = await cached_gateway(SEMANTIC)
    await gw.chat(cached)
    before = upstream.chat_calls
    answer = await gw.chat(asked)
    assert answer.headers["x-cache"] == "MISS"
    assert answer.json()["choices"][0]["message"]["content"] == f"You said: {asked}"
    assert upstream.chat_calls == before + 1


async def test_a_paraphrase_for_another_model_or_temperature_is_a_miss(cached_gateway: Any) -> None:
    gw = await cached_gateway(SEMANTIC)
    await gw.chat("How do I reverse a list in Python?", temperature=0)
    assert (await gw.chat("How can I reverse a list in Python?", temperature=0)).headers["x-cache"] == "SEMANTIC"
    assert (await gw.chat("How can I reverse a list in Python?", temperature=0.9)).headers["x-cache"] == "MISS"
    other_model = await gw.chat("How can I reverse a list in Python?", temperature=0, model="other-model")
    assert other_model.headers["x-cache"] == "MISS"
    system = [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "How can I reverse a list in Python?"}]
    assert (await gw.chat("", messages=system, temperature=0)).headers["x-cache"] == "MISS"


async def test_a_higher_threshold_turns_a_paraphrase_into_a_miss(cached_gateway: Any) -> None:
    gw = await cached_gateway({"semantic": True, "threshold": 0.999})
    await gw.chat("How do I reverse a list in Python?")
    assert (await gw.chat("How can I reverse a list in Python?")).headers["x-cache"] == "MISS"


async def test_semantic_matches_stay_within_a_tenant(cached_gateway: Any) -> None:
    gw = await cached_gateway(SEMANTIC)
    other = await gw.second_tenant()
    await gw.chat("How do I reverse a list in Python?")
    assert (await other.chat("How can I reverse a list in Python?")).headers["x-cache"] == "MISS"
    assert (await gw.chat("How can I reverse a list in Python?")).headers["x-cache"] == "SEMANTIC"


async def test_an_expired_answer_is_no_semantic_match(cached_gateway: Any) -> None:
    import asyncio

    gw = await cached_gateway({"semantic": True, "ttl": 1})
    await gw.chat("How do I reverse a list in Python?")
    await asyncio.sleep(1.2)
    assert (await gw.chat("How can I reverse a list in Python?")).headers["x-cache"] == "MISS"


async def test_the_model_scores_a_swapped_question_above_the_threshold() -> None:
    """Why the safeguards exist: the threshold alone would serve the wrong conversion."""
    from aiproxy_embeddings import Embedder

    vectors = await Embedder.shared().embed(["How many km is 10 miles?", "How many miles is 10 km?", "How many kilometers are 10 miles?"])
    swapped, paraphrase = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert swapped >= 0.95
    assert swapped > paraphrase
