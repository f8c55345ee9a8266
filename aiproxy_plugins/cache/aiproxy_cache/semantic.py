"""Semantic lookup: the nearest cached prompt of the same scope that is similar enough and safe."""

from __future__ import annotations

import numpy as np
from aiproxy_embeddings import Embedder

from .entries import CachedAnswer
from .safeguards import compatible
from .storage import CacheStore

__all__ = ["SemanticMatcher"]

#: Candidates above the threshold checked against the safeguards, best first: the best one may
#: fail them (a swapped question scores higher than a paraphrase) while the next one passes.
CANDIDATES = 5


class SemanticMatcher:
    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder

    async def embed(self, prompt: str) -> np.ndarray:
        # The process's shared model (loaded on the first semantic request, not at startup: a
        # gateway using only exact caching never loads torch).
        embedder = self._embedder or Embedder.shared()
        vectors = await embedder.embed([prompt])
        return vectors[0]

    async def find(
        self, store: CacheStore, tenant: str, scope: str, vector: np.ndarray, prompt: str, threshold: float
    ) -> CachedAnswer | None:
        for key, _score in await store.nearest(tenant, scope, vector, threshold, CANDIDATES):
            answer = await store.get(tenant, key)
            if answer is None:
                await store.forget_vector(tenant, scope, key)  # its answer expired
                continue
            if answer.prompt is not None and compatible(prompt, answer.prompt):
                return answer
        return None
