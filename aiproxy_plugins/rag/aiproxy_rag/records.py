"""What the plugin stores and what the Admin API reads: knowledge bases, documents, chunks."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

__all__ = [
    "Chunk",
    "Document",
    "DocumentBody",
    "KnowledgeBase",
    "KnowledgeBaseSpec",
    "LookupBody",
    "new_document_id",
    "new_knowledge_base_id",
    "valid_id",
]

#: Above this many chunks a knowledge base is searched with HNSW instead of exactly.
DEFAULT_HNSW_THRESHOLD = 20_000

_ID = re.compile(r"^(kb|doc)_[0-9a-f]{16}$")


def new_knowledge_base_id() -> str:
    return "kb_" + uuid.uuid4().hex[:16]


def new_document_id() -> str:
    return "doc_" + uuid.uuid4().hex[:16]


def valid_id(value: str) -> bool:
    """Ids end up in state keys: anything not shaped like ours is simply unknown."""
    return bool(_ID.match(value))


def _now() -> datetime:
    return datetime.now(timezone.utc)


class KnowledgeBaseSpec(BaseModel):
    """The body of ``POST .../knowledge-bases``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    chunk_size: int = Field(default=800, ge=100, le=8000, description="characters per chunk at most")
    chunk_overlap: int = Field(default=100, ge=0, le=4000, description="characters repeated between neighbours")
    hnsw_threshold: int = Field(
        default=DEFAULT_HNSW_THRESHOLD, ge=1, le=10_000_000, description="chunks above which HNSW replaces exact search"
    )

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _overlap_below_size(self) -> "KnowledgeBaseSpec":
        if self.chunk_overlap >= self.chunk_size // 2:
            raise ValueError("chunk_overlap must be less than half of chunk_size")
        return self


class KnowledgeBase(KnowledgeBaseSpec):
    id: str
    tenant_id: str
    created_at: datetime = Field(default_factory=_now)

    def public(self, *, documents: int, chunks: int, index: str) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), "document_count": documents, "chunk_count": chunks, "index": index}


class DocumentBody(BaseModel):
    """The JSON body of ``POST .../documents``."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    title: str = Field(default="", max_length=500)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_small(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if len(value) > 64:
            raise ValueError("at most 64 keys")
        return value


class Document(BaseModel):
    id: str
    title: str = ""
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    content_type: str = "text/plain"
    characters: int
    chunk_count: int
    created_at: datetime = Field(default_factory=_now)

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Chunk(BaseModel):
    """One retrievable piece; its vector is row ``position`` of its document's vectors."""

    document_id: str
    position: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.document_id}:{self.position}"


class LookupBody(BaseModel):
    """The body of ``POST .../lookup``."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=10_000)
    top_k: int = Field(default=5, ge=1, le=50)
    min_score: float = Field(default=-1.0, ge=-1.0, le=1.0)

    @field_validator("query")
    @classmethod
    def _query_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value
