"""aiproxy ``rag`` plugin: per-tenant knowledge bases and retrieval-augmented chat requests."""

from .chunking import split_text
from .index import VectorIndex
from .plugin import SOURCES_HEADER, RagPlugin
from .settings import RagSettings

__all__ = ["SOURCES_HEADER", "RagPlugin", "RagSettings", "VectorIndex", "split_text"]
