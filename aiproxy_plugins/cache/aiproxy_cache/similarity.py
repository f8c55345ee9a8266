"""Ranking stored unit vectors against a query vector."""

from __future__ import annotations

import numpy as np

__all__ = ["best_rows"]


def best_rows(matrix: np.ndarray, vector: np.ndarray, threshold: float, count: int, live: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The ``count`` best (row, score) at or above ``threshold`` among the ``live`` rows; vectors
    are unit length, so a dot product is the cosine similarity."""
    if matrix.shape[0] == 0:
        return []
    scores = matrix @ np.asarray(vector, dtype=np.float32)
    candidates = scores >= threshold
    if live is not None:
        candidates &= live
    above = np.flatnonzero(candidates)
    if above.size == 0:
        return []
    best = above[np.argsort(-scores[above])[:count]]
    return [(int(i), float(scores[i])) for i in best]
