"""Deny topics: a text is on a topic the tenant listed when its embedding is close to the topic's.

Topic vectors are computed once per settings object (once per config version), on first use.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from aiproxy_embeddings import Embedder

from .settings import ModerationSettings

__all__ = ["topic_similarity"]



async def _topic_vectors(settings: ModerationSettings) -> np.ndarray:
    vectors = settings._topic_vectors
    if vectors is None:
        # Two first requests may both compute them; the result is the same, so no lock is needed.
        vectors = await Embedder.shared().embed(settings.deny_topics)
        settings._topic_vectors = vectors
    return vectors


async def topic_similarity(texts: Sequence[str], settings: ModerationSettings) -> float:
    """The highest cosine similarity of any text to any deny topic."""
    if not texts or not settings.deny_topics:
        return 0.0
    topics = await _topic_vectors(settings)
    vectors = await Embedder.shared().embed(list(texts))
    return float(np.max(vectors @ topics.T))
