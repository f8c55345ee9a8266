"""The shared embedder with the real model (slow: loads all-MiniLM-L6-v2 from its package)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from aiproxy_embeddings import Embedder

pytestmark = pytest.mark.slow


async def test_vectors_are_unit_length_and_meaningful():
    embedder = Embedder.shared()
    vectors = await embedder.embed(["How do I reset my password?", "I forgot my password", "The cat sat on the mat"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    similar, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert similar > 0.5 > unrelated


async def test_concurrent_calls_are_batched_and_keep_their_order():
    embedder = Embedder.shared()
    texts = [f"question number {i} about refunds" for i in range(32)]
    alone = await embedder.embed(texts[:1])
    together = await asyncio.gather(*(embedder.embed([t]) for t in texts))
    assert all(v.shape == (1, 384) for v in together)
    assert np.allclose(together[0], alone, atol=1e-5)
    assert not np.allclose(together[0], together[1])


async def test_nothing_to_embed_is_an_empty_matrix():
    assert (await Embedder.shared().embed([])).shape == (0, 384)
