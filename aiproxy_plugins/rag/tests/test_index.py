from __future__ import annotations

import numpy as np

from aiproxy_rag import VectorIndex


def _unit(rows: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, 384)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_small_bases_are_searched_exactly() -> None:
    vectors = _unit(50)
    index = VectorIndex.build(vectors, hnsw_threshold=100)
    assert index.kind == "flat"
    hits = index.search(vectors[7], 3)
    assert hits[0][0] == 7 and abs(hits[0][1] - 1.0) < 1e-5
    assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)


def test_past_the_threshold_hnsw_finds_the_same_nearest() -> None:
    vectors = _unit(300, seed=1)
    exact = VectorIndex.build(vectors, hnsw_threshold=1000)
    approximate = VectorIndex.build(vectors, hnsw_threshold=100)
    assert approximate.kind == "hnsw"
    for row in (0, 99, 299):
        query = vectors[row] + 0.05 * _unit(1, seed=row)[0]
        query /= np.linalg.norm(query)
        assert approximate.search(query, 1)[0][0] == exact.search(query, 1)[0][0] == row


def test_top_k_never_exceeds_the_index_and_empty_answers_nothing() -> None:
    vectors = _unit(2)
    assert len(VectorIndex.build(vectors, 10).search(vectors[0], 10)) == 2
    assert VectorIndex.build(np.zeros((0, 384), dtype=np.float32), 10).search(vectors[0], 3) == []


def test_serialized_indexes_load_with_their_kind() -> None:
    vectors = _unit(20)
    for threshold, kind in ((100, "flat"), (5, "hnsw")):
        loaded = VectorIndex.from_bytes(VectorIndex.build(vectors, threshold).to_bytes())
        assert loaded.kind == kind and len(loaded) == 20
        assert loaded.search(vectors[3], 1)[0][0] == 3
        assert np.allclose(loaded.vectors(), vectors)


def test_rows_are_added_in_place_and_the_kind_follows_the_size() -> None:
    vectors = _unit(12, seed=2)
    index = VectorIndex.build(vectors[:4], hnsw_threshold=8)
    grown = index.with_rows(vectors[4:8], hnsw_threshold=8)
    assert grown is index and grown.kind == "flat" and len(grown) == 8
    crossed = grown.with_rows(vectors[8:], hnsw_threshold=8)
    assert crossed.kind == "hnsw" and len(crossed) == 12
    assert [crossed.search(vectors[row], 1)[0][0] for row in (0, 5, 11)] == [0, 5, 11]


def test_removing_rows_keeps_the_others_in_order() -> None:
    vectors = _unit(10, seed=3)
    index = VectorIndex.build(vectors, hnsw_threshold=5).without_rows([2, 3], hnsw_threshold=5)
    assert index.kind == "hnsw" and len(index) == 8
    assert np.allclose(index.vectors(), np.delete(vectors, [2, 3], axis=0))
    assert VectorIndex.build(vectors, 5).without_rows(list(range(6)), 5).kind == "flat"
