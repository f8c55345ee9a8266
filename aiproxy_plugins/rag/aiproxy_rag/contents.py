"""A knowledge base's searchable contents, and their form as one bytes value of the state API.

Everything a search needs travels together (documents, chunk texts, the FAISS index), so a
process that loads a base gets a consistent snapshot in one read, and a change replaces all of
it in one atomic step. Layout of the value::

    b"RAG1" | length of the header (4 bytes, big-endian) | header (JSON, UTF-8) | FAISS index

The header is ``{"version", "documents": [records, oldest first], "chunks": [[document id,
text], ...]}``; row ``i`` of the index is ``chunks[i]`` (a chunk's position is its place among
its document's chunks). The index is ``faiss.serialize_index``: an HNSW graph loads as it was
built, without re-indexing.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from .index import VectorIndex
from .records import Chunk, Document

__all__ = ["DIMENSION", "Contents"]

DIMENSION = 384
_MAGIC = b"RAG1"
_HEADER_LENGTH = struct.Struct(">I")


@dataclass(frozen=True)
class Contents:
    """One version of a base: ``index`` row ``i`` is ``chunks[i]``; ``documents`` oldest first."""

    version: str
    documents: dict[str, Document]
    chunks: list[Chunk]
    index: VectorIndex

    @classmethod
    def empty(cls, version: str, hnsw_threshold: int) -> "Contents":
        return cls(version, {}, [], VectorIndex.build(np.zeros((0, DIMENSION), dtype=np.float32), hnsw_threshold))

    def encode(self) -> bytes:
        header = json.dumps(
            {
                "version": self.version,
                "documents": [document.model_dump(mode="json") for document in self.documents.values()],
                "chunks": [[chunk.document_id, chunk.text] for chunk in self.chunks],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        return b"".join((_MAGIC, _HEADER_LENGTH.pack(len(header)), header, self.index.to_bytes()))

    @classmethod
    def decode(cls, data: bytes) -> "Contents":
        if data[:4] != _MAGIC:
            raise ValueError("not a knowledge base's contents (unknown format)")
        (length,) = _HEADER_LENGTH.unpack_from(data, 4)
        start = 4 + _HEADER_LENGTH.size
        header: dict[str, Any] = json.loads(data[start : start + length])
        documents = [Document.model_validate(record) for record in header["documents"]]
        chunks: list[Chunk] = []
        positions: dict[str, int] = {}
        for document_id, text in header["chunks"]:
            position = positions.get(document_id, 0)
            positions[document_id] = position + 1
            chunks.append(Chunk(document_id=document_id, position=position, text=text))
        index = VectorIndex.from_bytes(memoryview(data)[start + length :])
        return cls(header["version"], {document.id: document for document in documents}, chunks, index)

    def with_document(self, version: str, document: Document, chunks: list[Chunk], vectors: np.ndarray, hnsw_threshold: int) -> "Contents":
        """These contents and one more document; ``self.index`` may be changed in place, so
        call it on contents of your own (decoded for this change), never on a shared cache."""
        index = self.index.with_rows(vectors, hnsw_threshold)
        return Contents(version, {**self.documents, document.id: document}, [*self.chunks, *chunks], index)

    def without_document(self, version: str, document_id: str, hnsw_threshold: int) -> "Contents":
        rows = [row for row, chunk in enumerate(self.chunks) if chunk.document_id == document_id]
        documents = {key: document for key, document in self.documents.items() if key != document_id}
        chunks = [chunk for chunk in self.chunks if chunk.document_id != document_id]
        return Contents(version, documents, chunks, self.index.without_rows(rows, hnsw_threshold))
