"""What a started ``rag`` plugin works with: its store, its retriever and the shared embedder."""

from __future__ import annotations

from dataclasses import dataclass

from .ingestion import Embeds
from .kb_store import KnowledgeStore
from .retrieval import Retriever

__all__ = ["RagRuntime"]


@dataclass(frozen=True)
class RagRuntime:
    store: KnowledgeStore
    retriever: Retriever
    embedder: Embeds
