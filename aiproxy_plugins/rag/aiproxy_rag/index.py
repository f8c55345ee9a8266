"""A FAISS index over unit vectors: exact inner product for small bases, HNSW past a threshold.

On unit vectors the inner product is the cosine similarity, so scores are comparable across
bases and a ``min_score`` means the same thing everywhere. Exact search over a few thousand
384-dim vectors takes well under a millisecond; HNSW pays off only when a base grows large.
"""

from __future__ import annotations

from typing import Literal

import faiss
import numpy as np

__all__ = ["IndexKind", "VectorIndex", "kind_for"]

IndexKind = Literal["flat", "hnsw"]

#: Neighbours per HNSW node; 32 is FAISS's usual trade of memory for recall.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
#: Candidates HNSW explores per query (at least top_k); higher means better recall, slower.
HNSW_EF_SEARCH = 64


def kind_for(size: int, hnsw_threshold: int) -> IndexKind:
    return "hnsw" if size > hnsw_threshold else "flat"


class VectorIndex:
    """Rows ``0..n-1`` of the vectors it was built from; searching answers row numbers."""

    def __init__(self, index: faiss.Index, kind: IndexKind) -> None:
        self._index = index
        self.kind = kind

    @classmethod
    def build(cls, vectors: np.ndarray, hnsw_threshold: int) -> "VectorIndex":
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dimension = vectors.shape[1]
        kind = kind_for(len(vectors), hnsw_threshold)
        if kind == "hnsw":
            index: faiss.Index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        else:
            index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(vectors)
        return cls(index, kind)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> "VectorIndex":
        """An index written by :meth:`to_bytes` (FAISS's own serialization: graph included, so
        loading an HNSW index costs a copy, not a rebuild)."""
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        return cls(index, "hnsw" if isinstance(index, faiss.IndexHNSWFlat) else "flat")

    def to_bytes(self) -> bytes:
        return bytes(faiss.serialize_index(self._index))

    def vectors(self) -> np.ndarray:
        """Every row, in order: both kinds keep the vectors themselves (flat storage)."""
        return self._index.reconstruct_n(0, len(self)) if len(self) else np.zeros((0, self._index.d), dtype=np.float32)

    def with_rows(self, vectors: np.ndarray, hnsw_threshold: int) -> "VectorIndex":
        """This index with ``vectors`` appended as its next rows. In place while the kind stays
        (both kinds add incrementally); rebuilt when the new size crosses ``hnsw_threshold``."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if kind_for(len(self) + len(vectors), hnsw_threshold) != self.kind:
            return VectorIndex.build(np.vstack([self.vectors(), vectors]), hnsw_threshold)
        if len(vectors):
            self._index.add(vectors)
        return self

    def without_rows(self, rows: list[int], hnsw_threshold: int) -> "VectorIndex":
        """A new index of the other rows, in order (HNSW cannot remove: rebuilt either way)."""
        keep = np.setdiff1d(np.arange(len(self)), np.asarray(rows, dtype=np.int64))
        return VectorIndex.build(self.vectors()[keep], hnsw_threshold)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, top_k: int) -> list[tuple[int, float]]:
        """``(row, score)`` pairs, best first; at most ``top_k`` and never more than the index holds."""
        top_k = min(top_k, len(self))
        if top_k <= 0:
            return []
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, top_k))
            scores, rows = self._index.search(query, top_k, params=params)
        else:
            scores, rows = self._index.search(query, top_k)
        return [(int(row), float(score)) for row, score in zip(rows[0], scores[0]) if row >= 0]
