"""Knowledge bases as files, for embedded gateways (no Redis).

Layout, under ``services.data_dir / "rag"``::

    <tenant_id>/<kb_id>/kb.json                  the base's settings
    <tenant_id>/<kb_id>/current                  the version in use (one line)
    <tenant_id>/<kb_id>/v-<version>/documents.json
                                   /chunks.json
                                   /vectors.npy  float32 (chunks, 384), row i = chunks[i]
                                   /index.faiss  the FAISS index for these vectors

A change writes a whole new ``v-<version>`` folder and then swaps ``current`` with an atomic
rename, so a crash or a concurrent reader never sees half a change; the old folder is removed
afterwards. Bases stay small enough (a few MB of vectors) for whole rewrites to be cheap, and
this keeps the format readable with nothing but numpy and json.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import uuid
from collections import defaultdict
from pathlib import Path

import numpy as np

from .index import VectorIndex
from .kb_store import Contents
from .records import Chunk, Document, KnowledgeBase

__all__ = ["FileStore"]

EMPTY = "empty"  # the version of a base with no documents: no folder behind it
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        # Writes to one base go one at a time within this process; one embedded gateway is one
        # process, which is the deployment this store is for.
        self._locks: defaultdict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)

    # -- bases -------------------------------------------------------------------------------

    async def put_base(self, base: KnowledgeBase) -> None:
        folder = self._folder(base.tenant_id, base.id)
        async with self._locks[base.tenant_id, base.id]:
            await asyncio.to_thread(_create_base, folder, base)

    async def get_base(self, tenant_id: str, kb_id: str) -> KnowledgeBase | None:
        return await asyncio.to_thread(_read_base, self._folder(tenant_id, kb_id))

    async def list_bases(self, tenant_id: str) -> list[KnowledgeBase]:
        return await asyncio.to_thread(_list_bases, self._tenant_folder(tenant_id))

    async def delete_base(self, tenant_id: str, kb_id: str) -> bool:
        folder = self._folder(tenant_id, kb_id)
        async with self._locks[tenant_id, kb_id]:
            return await asyncio.to_thread(_delete_folder, folder)

    # -- documents ---------------------------------------------------------------------------

    async def add_document(self, tenant_id: str, kb_id: str, document: Document, chunks: list[Chunk], vectors: np.ndarray) -> bool:
        folder = self._folder(tenant_id, kb_id)
        async with self._locks[tenant_id, kb_id]:
            return await asyncio.to_thread(_add_document, folder, document, chunks, vectors)

    async def delete_document(self, tenant_id: str, kb_id: str, document_id: str) -> bool:
        folder = self._folder(tenant_id, kb_id)
        async with self._locks[tenant_id, kb_id]:
            return await asyncio.to_thread(_delete_document, folder, document_id)

    async def list_documents(self, tenant_id: str, kb_id: str) -> list[Document]:
        contents = await self.contents(tenant_id, kb_id)
        return list(contents.documents.values()) if contents is not None else []

    # -- reading for retrieval ---------------------------------------------------------------

    async def version(self, tenant_id: str, kb_id: str) -> str | None:
        # A small file read per request: no thread hop, it costs less than scheduling one.
        try:
            return (self._folder(tenant_id, kb_id) / "current").read_text().strip()
        except FileNotFoundError:
            return None

    async def contents(self, tenant_id: str, kb_id: str) -> Contents | None:
        folder = self._folder(tenant_id, kb_id)
        async with self._locks[tenant_id, kb_id]:
            return await asyncio.to_thread(_read_contents, folder)

    async def keep_index(self, tenant_id: str, kb_id: str, version: str, index: VectorIndex) -> None:
        if version == EMPTY:
            return
        generation = self._folder(tenant_id, kb_id) / f"v-{version}"
        async with self._locks[tenant_id, kb_id]:
            await asyncio.to_thread(_save_index, generation, index)

    # -- paths -------------------------------------------------------------------------------

    def _tenant_folder(self, tenant_id: str) -> Path:
        if not _SAFE_NAME.match(tenant_id):
            raise ValueError(f"unsafe tenant id {tenant_id!r}")
        return self.root / tenant_id

    def _folder(self, tenant_id: str, kb_id: str) -> Path:
        if not _SAFE_NAME.match(kb_id):
            raise ValueError(f"unsafe knowledge base id {kb_id!r}")
        return self._tenant_folder(tenant_id) / kb_id


# -- blocking work, run in a thread ----------------------------------------------------------


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _create_base(folder: Path, base: KnowledgeBase) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(folder / "kb.json", base.model_dump_json(indent=2).encode())
    if not (folder / "current").exists():
        _write_atomically(folder / "current", EMPTY.encode())


def _read_base(folder: Path) -> KnowledgeBase | None:
    try:
        return KnowledgeBase.model_validate_json((folder / "kb.json").read_bytes())
    except FileNotFoundError:
        return None


def _list_bases(tenant_folder: Path) -> list[KnowledgeBase]:
    if not tenant_folder.is_dir():
        return []
    bases = [base for child in tenant_folder.iterdir() if (base := _read_base(child)) is not None]
    return sorted(bases, key=lambda base: (base.created_at, base.id))


def _delete_folder(folder: Path) -> bool:
    if not (folder / "kb.json").exists():
        return False
    # Renamed first so the base vanishes at once for readers; the files go after.
    doomed = folder.with_name(f".deleted-{folder.name}-{uuid.uuid4().hex[:8]}")
    os.replace(folder, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    return True


def _read_contents(folder: Path) -> Contents | None:
    base = _read_base(folder)
    try:
        version = (folder / "current").read_text().strip()
    except FileNotFoundError:
        return None
    if base is None:
        return None
    if version == EMPTY:
        return Contents(base, version, {}, [], np.zeros((0, 384), dtype=np.float32))
    generation = folder / f"v-{version}"
    documents = [Document.model_validate(d) for d in json.loads((generation / "documents.json").read_bytes())]
    chunks = [Chunk.model_validate(c) for c in json.loads((generation / "chunks.json").read_bytes())]
    vectors = np.load(generation / "vectors.npy")
    index_file = generation / "index.faiss"
    index = VectorIndex.load(index_file) if index_file.exists() else None
    return Contents(base, version, {d.id: d for d in documents}, chunks, vectors, index)


def _write_generation(folder: Path, documents: list[Document], chunks: list[Chunk], vectors: np.ndarray) -> None:
    previous = (folder / "current").read_text().strip()
    version = uuid.uuid4().hex
    generation = folder / f"v-{version}"
    generation.mkdir()
    _write_atomically(generation / "documents.json", json.dumps([d.model_dump(mode="json") for d in documents]).encode())
    _write_atomically(generation / "chunks.json", json.dumps([c.model_dump(mode="json") for c in chunks]).encode())
    with open(generation / "vectors.npy", "wb") as file:
        np.save(file, np.ascontiguousarray(vectors, dtype=np.float32))
    _write_atomically(folder / "current", version.encode())
    if previous != EMPTY:
        shutil.rmtree(folder / f"v-{previous}", ignore_errors=True)


def _add_document(folder: Path, document: Document, chunks: list[Chunk], vectors: np.ndarray) -> bool:
    contents = _read_contents(folder)
    if contents is None:
        return False
    documents = [*contents.documents.values(), document]
    all_vectors = np.vstack([contents.vectors, vectors]) if len(contents.vectors) else vectors
    _write_generation(folder, documents, [*contents.chunks, *chunks], all_vectors)
    return True


def _delete_document(folder: Path, document_id: str) -> bool:
    contents = _read_contents(folder)
    if contents is None or document_id not in contents.documents:
        return False
    keep = [i for i, chunk in enumerate(contents.chunks) if chunk.document_id != document_id]
    documents = [d for d in contents.documents.values() if d.id != document_id]
    _write_generation(folder, documents, [contents.chunks[i] for i in keep], contents.vectors[keep])
    return True


def _save_index(generation: Path, index: VectorIndex) -> None:
    if generation.is_dir():  # not replaced meanwhile by a newer version
        temporary = generation / f".index.{uuid.uuid4().hex[:8]}"
        index.save(temporary)
        os.replace(temporary, generation / "index.faiss")
