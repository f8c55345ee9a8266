"""Retrieval quality on a small judged corpus: 15 short documents on varied topics, 32 questions,
each judged relevant to exactly one document (``retrieval_eval.json``).

Figures are printed (run with ``-s``) and quoted in the README; the floors below sit safely under
them, so a change that makes retrieval clearly worse (chunking, normalization, index) fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiproxy_core.state import StateService
from aiproxy_embeddings import Embedder
from aiproxy_rag.ingestion import ingest
from aiproxy_rag.kb_store import KnowledgeStore
from aiproxy_rag.records import KnowledgeBase
from aiproxy_rag.retrieval import Retriever

CORPUS = Path(__file__).with_name("retrieval_eval.json")


@pytest.mark.slow
@pytest.mark.parametrize("hnsw_threshold", [20_000, 1], ids=["flat", "hnsw"])
async def test_recall_and_mrr(tmp_path: Path, hnsw_threshold: int) -> None:
    corpus = json.loads(CORPUS.read_text())
    state = StateService(tmp_path)  # embedded: the SQLite state file
    state.open()
    store = KnowledgeStore(state.for_plugin("rag"))
    base = KnowledgeBase(id="kb_00000000000000e1", tenant_id="tnt_eval", name="eval", hnsw_threshold=hnsw_threshold)
    await store.put_base(base)
    embedder = Embedder.shared()
    ids = {}
    for name, text in corpus["documents"].items():
        head = await store.head(base.tenant_id, base.id)
        assert head is not None
        document = await ingest(store, embedder, head, text, title=name, metadata={}, content_type="text/plain")
        ids[document.id] = name
    retriever = Retriever(store)
    questions = corpus["questions"]
    assert len(corpus["documents"]) >= 12 and len(questions) >= 30

    vectors = await embedder.embed([question for question, _ in questions])
    ranks = []
    for (question, relevant), vector in zip(questions, vectors):
        hits = await retriever.search(base.tenant_id, base.id, vector, top_k=10)
        ranking = list(dict.fromkeys(ids[hit.document.id] for hit in hits))
        ranks.append(ranking.index(relevant) + 1 if relevant in ranking else None)
    recall_1 = sum(rank == 1 for rank in ranks) / len(ranks)
    recall_3 = sum(rank is not None and rank <= 3 for rank in ranks) / len(ranks)
    mrr = sum(1 / rank for rank in ranks if rank is not None) / len(ranks)
    index = await retriever.index_kind(base.tenant_id, base.id)
    print(f"\n[rag eval, {index}] {len(questions)} questions, {len(ids)} documents: recall@1={recall_1:.3f} recall@3={recall_3:.3f} MRR={mrr:.3f}")
    misses = [q for (q, _), rank in zip(questions, ranks) if rank != 1]
    print(f"[rag eval, {index}] not first: {misses}")
    state.close()
    assert recall_1 >= 0.80
    assert recall_3 >= 0.93
    assert mrr >= 0.85
