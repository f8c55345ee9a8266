"""One sentence-embedding model per process, shared by plugins, with concurrent calls batched.

    from aiproxy_embeddings import Embedder

    vectors = await Embedder.shared().embed(["first text", "second text"])  # (2, 384), unit length

Not a plugin itself (no entry point): a library the ``rag``, ``cache`` and ``moderation`` plugins
depend on, so the model is loaded once however many of them a gateway runs.
"""

from .embedder import Embedder

__all__ = ["Embedder"]
