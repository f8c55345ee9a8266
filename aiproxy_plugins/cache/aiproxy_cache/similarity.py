"""Ranking stored unit vectors against a query vector (shared by both stores)."""

from __future__ import annotations

import numpy as np

__all__ = ["best_matches"]


def best_matches(keys: list[str], matrix: np.ndarray, vector: np.ndarray, threshold: float, count: int) -> list[tuple[str, float]]:
    """The ``count`` best (key, score) at or above ``threshold``; vectors are unit length, so a
    dot product is the cosine similarity."""
    if not keys:
        return []
    scores = matrix @ vector
    above = np.flatnonzero(scores >= threshold)
    if above.size == 0:
        return []
    best = above[np.argsort(-scores[above])[:count]]
    return [(keys[i], float(scores[i])) for i in best]
