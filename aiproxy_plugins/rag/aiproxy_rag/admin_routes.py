"""The plugin's Admin API: knowledge bases, their documents, and lookups.

Every endpoint first calls ``authorized_tenant`` (the tenant's key or the admin token; 401
before 404), and every base is looked up under that tenant only, so one tenant's base id is
simply unknown (404) to another. Bodies are validated completely before anything is stored.
"""

from __future__ import annotations

from typing import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from aiproxy_core import BadRequest, GatewayError, GatewayServices, NotFound, UploadRoute, authorized_tenant, read_body, read_model

from .index import kind_for
from .ingestion import ingest
from .pdf_text import pdf_text
from .kb_store import BaseHead
from .records import DocumentBody, KnowledgeBase, KnowledgeBaseSpec, LookupBody, new_knowledge_base_id, valid_id
from .runtime import RagRuntime

__all__ = ["MAX_UPLOAD_BYTES", "rag_routes"]

BASES = "/api/v1/tenants/{tenant_id}/knowledge-bases"
BASE = BASES + "/{kb_id}"
#: Raw uploads (a PDF, a text file) may exceed the Admin API's JSON limit; this is their own.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
TEXT_TYPES = ("text/plain", "text/markdown")
PDF_TYPE = "application/pdf"


def rag_routes(services: GatewayServices, runtime: Callable[[], RagRuntime]) -> list[BaseRoute]:
    limit = services.config.server.max_admin_body_bytes

    async def head_of(request: Request) -> BaseHead:
        tenant = await authorized_tenant(request)
        kb_id = request.path_params["kb_id"]
        head = await runtime().store.head(tenant.id, kb_id) if valid_id(kb_id) else None
        if head is None:
            raise NotFound(f"this tenant has no knowledge base with the id {kb_id!r}", code="knowledge_base_not_found")
        return head

    async def base_of(request: Request) -> KnowledgeBase:
        return (await head_of(request)).base

    def described(head: BaseHead) -> dict[str, object]:
        return head.base.public(documents=head.documents, chunks=head.chunks, index=kind_for(head.chunks, head.base.hnsw_threshold))

    async def create_base(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        spec = await read_model(request, KnowledgeBaseSpec, limit)
        base = KnowledgeBase(id=new_knowledge_base_id(), tenant_id=tenant.id, **spec.model_dump())
        await runtime().store.put_base(base)
        return JSONResponse(base.public(documents=0, chunks=0, index=kind_for(0, base.hnsw_threshold)), status_code=201)

    async def list_bases(request: Request) -> Response:
        tenant = await authorized_tenant(request)
        heads = await runtime().store.list_heads(tenant.id)
        return JSONResponse({"data": [described(head) for head in heads]})

    async def get_base(request: Request) -> Response:
        return JSONResponse(described(await head_of(request)))

    async def delete_base(request: Request) -> Response:
        base = await base_of(request)
        if not await runtime().store.delete_base(base.tenant_id, base.id):
            raise NotFound(f"this tenant has no knowledge base with the id {base.id!r}", code="knowledge_base_not_found")
        runtime().retriever.forget(base.tenant_id, base.id)
        return Response(status_code=204)

    async def add_document(request: Request) -> Response:
        head = await head_of(request)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json":
            body = await read_model(request, DocumentBody, limit)
            text, title, metadata = body.text, body.title, body.metadata
        elif content_type in TEXT_TYPES or content_type == PDF_TYPE:
            data = await _read_upload(request)
            text = pdf_text(data) if content_type == PDF_TYPE else _decoded(data)
            title, metadata = request.query_params.get("title", "")[:500], {}
            if "filename" in request.query_params:
                metadata["filename"] = request.query_params["filename"][:500]
        else:
            raise GatewayError(
                f"send the document as application/json ({{\"text\": ...}}) or as a raw text/plain, text/markdown "
                f"or application/pdf body, not {content_type or 'no Content-Type'}",
                status=415,
                code="unsupported_media_type",
            )
        rt = runtime()
        document = await ingest(rt.store, rt.embedder, head, text, title=title, metadata=metadata, content_type=content_type)
        return JSONResponse(document.public(), status_code=201)

    async def list_documents(request: Request) -> Response:
        base = await base_of(request)
        documents = await runtime().store.list_documents(base.tenant_id, base.id)
        return JSONResponse({"data": [document.public() for document in documents]})

    async def delete_document(request: Request) -> Response:
        base = await base_of(request)
        document_id = request.path_params["document_id"]
        if not valid_id(document_id) or not await runtime().store.delete_document(base.tenant_id, base.id, document_id):
            raise NotFound(f"this knowledge base has no document with the id {document_id!r}", code="document_not_found")
        return Response(status_code=204)

    async def lookup(request: Request) -> Response:
        base = await base_of(request)
        body = await read_model(request, LookupBody, limit)
        rt = runtime()
        query = (await rt.embedder.embed([body.query]))[0]
        hits = await rt.retriever.search(base.tenant_id, base.id, query, body.top_k, body.min_score)
        return JSONResponse({"data": [hit.public() for hit in hits], "index": await rt.retriever.index_kind(base.tenant_id, base.id)})

    return [
        Route(BASES, create_base, methods=["POST"]),
        Route(BASES, list_bases, methods=["GET"]),
        Route(BASE, get_base, methods=["GET"]),
        Route(BASE, delete_base, methods=["DELETE"]),
        # The one route taking raw files; the Admin API lets these types through only here, with a key.
        UploadRoute(BASE + "/documents", add_document, methods=["POST"], media_types=(*TEXT_TYPES, PDF_TYPE)),
        Route(BASE + "/documents", list_documents, methods=["GET"]),
        Route(BASE + "/documents/{document_id}", delete_document, methods=["DELETE"]),
        Route(BASE + "/lookup", lookup, methods=["POST"]),
    ]


async def _read_upload(request: Request) -> bytes:
    data = await read_body(request, MAX_UPLOAD_BYTES, "the upload")
    if not data.strip():
        raise BadRequest("the upload is empty", code="empty_document")
    return data


def _decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"a text upload must be UTF-8: {exc}", code="invalid_encoding") from None
