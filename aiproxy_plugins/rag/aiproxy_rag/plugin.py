"""The ``rag`` plugin: knowledge bases over the Admin API, and retrieved context in chat requests.

* ``admin_routes``: ``/api/v1/tenants/{tenant_id}/knowledge-bases/...`` (``admin_routes.py``).
* ``check_references``: a rule naming a knowledge base its tenant does not have is refused when saved.
* ``startup``: keeps its bases in the core's state API (``services.state("rag")``: SQLite
  embedded, the gateway's Redis otherwise; ``kb_store.py``) and loads the embedding model, so
  the first request does not pay for it.
* ``pre_request``: embeds the last user message, searches the rule's knowledge base and inserts
  the chunks above ``min_score`` into the messages; sources go to ``X-RAG-Sources`` and
  ``ctx.annotations["rag"]``.

The entry point names the :class:`RagPlugin` class; the gateway makes one instance, which keeps
the store its gateway's ``startup`` chose (several gateways in one process each get their own).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.routing import BaseRoute

from aiproxy_core import BadRequest, GatewayServices, RequestContext, hookimpl
from aiproxy_embeddings import Embedder

from .admin_routes import rag_routes
from .injection import last_user_text, with_context
from .ingestion import Embeds
from .kb_store import MAX_KNOWLEDGE_BASE_BYTES, KnowledgeStore
from .retrieval import Retriever
from .runtime import RagRuntime
from .settings import RagSettings

__all__ = ["SOURCES_HEADER", "RagPlugin"]

SOURCES_HEADER = "X-RAG-Sources"


class RagPlugin:
    def __init__(self, embedder: Embeds | None = None, *, max_knowledge_base_bytes: int = MAX_KNOWLEDGE_BASE_BYTES) -> None:
        self._embedder = embedder
        self._max_base_bytes = max_knowledge_base_bytes
        self._runtime: RagRuntime | None = None
        self._warming: asyncio.Future[None] | None = None

    @property
    def preloading(self) -> bool:
        """Whether ``startup`` began loading the embedding model (it does when a saved chain uses rag)."""
        return self._warming is not None

    # -- registration ----------------------------------------------------------------------------

    @hookimpl
    def settings_model(self) -> type[RagSettings]:
        return RagSettings

    @hookimpl
    def admin_routes(self, services: GatewayServices) -> list[BaseRoute]:
        # Routes are built with the admin app, before startup: they find the runtime when called.
        return rag_routes(services, self.runtime)

    @hookimpl
    async def startup(self, services: GatewayServices) -> None:
        store = KnowledgeStore(services.state("rag"), self._max_base_bytes)
        embedder = self._embedder
        if embedder is None:
            embedder = Embedder.shared()
            if await services.chain_entries("rag"):
                # Loading the model takes seconds (and hundreds of MB): only when a saved chain
                # uses rag, and in the background, so the gateway serves at once; the first
                # embedding waits for it. Otherwise the first request that needs it loads it.
                self._warming = asyncio.ensure_future(embedder.warm_up())
        self._runtime = RagRuntime(store, Retriever(store), embedder)

    @hookimpl
    def shutdown(self, services: GatewayServices) -> None:
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()
        self._warming = None
        self._runtime = None

    @hookimpl
    def tenant_deleted(self, tenant_id: str) -> None:
        """The core has dropped the tenant's values (its bases, documents, chunks and indexes) before
        this hook; what is left is this process's cached copies of them."""
        self.runtime().retriever.forget(tenant_id)

    @hookimpl
    async def check_references(self, tenant_id: str, settings: RagSettings) -> dict[str, str] | None:
        """A rule may only name a knowledge base of its own tenant (looked up there alone)."""
        if await self.runtime().store.get_base(tenant_id, settings.knowledge_base) is None:
            return {"knowledge_base": f"tenant {tenant_id} has no knowledge base {settings.knowledge_base!r}"}
        return None

    def runtime(self) -> RagRuntime:
        if self._runtime is None:
            raise RuntimeError("the rag plugin is not started: the gateway did not call its startup hook")
        return self._runtime

    # -- stages ----------------------------------------------------------------------------------

    @hookimpl
    async def pre_request(self, ctx: RequestContext, settings: RagSettings) -> None:
        started = time.perf_counter()
        try:
            body: Any = ctx.request.json
        except BadRequest:
            return None  # not JSON, so not a chat request: the upstream will say what is wrong
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list):
            return None
        found = last_user_text(messages)
        if found is None:
            return None
        question_at, question = found
        runtime = self.runtime()
        query = (await runtime.embedder.embed([question]))[0]
        hits = await runtime.retriever.search(ctx.tenant.id, settings.knowledge_base, query, settings.top_k, settings.min_score)
        sources = list(dict.fromkeys(hit.document.id for hit in hits))  # unique, best first
        ctx.annotations["rag"] = {
            "knowledge_base": settings.knowledge_base,
            "sources": sources,
            "chunks": [{"chunk_id": hit.chunk.id, "score": round(hit.score, 4)} for hit in hits],
            "retrieval_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        ctx.response_headers[SOURCES_HEADER] = ",".join(sources)
        if hits:
            ctx.request.set_json({**body, "messages": with_context(messages, question_at, question, hits, settings)})
        return None
