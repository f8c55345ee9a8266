"""Fixtures for the rag plugin's tests: gateways with the plugin, Admin API shortcuts, a
recording upstream.

Test modules are imported with ``--import-mode=importlib``, so what they share lives here as
fixtures rather than in an importable helper module.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any, Awaitable, Callable, Iterator, Sequence

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aiproxy_rag import RagPlugin
from aiproxy_sdk import GatewayHarness, ServerThread

RagGateway = Callable[..., Awaitable[GatewayHarness]]


class WordEmbedder:
    """A stand-in for MiniLM where a test is about storage, not language: each word (lowercased)
    adds to one of 384 dimensions, and the sum is normalized, so texts sharing words score high
    and unrelated texts near 0. Deterministic and instant; it never loads the model."""

    WORD = re.compile(r"[a-z0-9]+")

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in self.WORD.findall(text.lower()):
                vectors[row, zlib.crc32(word.encode()) % 384] += 1.0
            norm = float(np.linalg.norm(vectors[row]))
            vectors[row] = vectors[row] / norm if norm else vectors[row]
        return vectors


@pytest.fixture
def rag_gateway(aiproxy_gateway_factory: Any) -> RagGateway:
    """``await rag_gateway(chain=[...], redis=..., **harness_options)``; each gets its own RagPlugin.

    ``plugin={...}`` passes keyword arguments to :class:`RagPlugin` (``embedder=WordEmbedder()``
    for tests that must not load the model, ``max_knowledge_base_bytes=...``).
    """

    async def start(*, chain: list[dict[str, Any]] | None = None, plugin: dict[str, Any] | None = None, **options: Any) -> GatewayHarness:
        return await aiproxy_gateway_factory(plugins={"rag": RagPlugin(**(plugin or {}))}, chain=chain or [], **options)

    return start


@pytest.fixture
def word_embedder() -> WordEmbedder:
    return WordEmbedder()


class KnowledgeApi:
    """Admin API calls for one harness, failing loudly when the gateway refuses."""

    def __init__(self, harness: GatewayHarness) -> None:
        self.harness = harness

    def url(self, path: str = "") -> str:
        return f"/api/v1/tenants/{self.harness.tenant['id']}/knowledge-bases{path}"

    async def create(self, **spec: Any) -> dict[str, Any]:
        response = await self.harness.admin.post(self.url(), json={"name": "docs", **spec}, headers=self.harness.tenant_auth)
        assert response.status_code == 201, response.text
        return response.json()

    async def add_text(self, kb_id: str, text: str, **fields: Any) -> dict[str, Any]:
        response = await self.harness.admin.post(
            self.url(f"/{kb_id}/documents"), json={"text": text, **fields}, headers=self.harness.tenant_auth
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def lookup(self, kb_id: str, query: str, **options: Any) -> httpx.Response:
        return await self.harness.admin.post(
            self.url(f"/{kb_id}/lookup"), json={"query": query, **options}, headers=self.harness.tenant_auth
        )


@pytest.fixture
def knowledge() -> Callable[[GatewayHarness], KnowledgeApi]:
    return KnowledgeApi


@pytest.fixture
def make_pdf() -> Callable[[list[str]], bytes]:
    """A minimal hand-written PDF, one page per string (Helvetica, one line each), with a correct
    cross-reference table so pypdf reads it without repairs."""

    def build(pages: list[str]) -> bytes:
        count = len(pages)
        font_id = 3 + 2 * count
        kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
        objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode()]
        for i, text in enumerate(pages):
            escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            content = f"BT /F1 10 Tf 40 700 Td ({escaped}) Tj ET".encode("latin-1")
            objects.append(
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
                f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
            )
            objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        out = bytearray(b"%PDF-1.4\n")
        offsets = []
        for number, body in enumerate(objects, 1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
        return bytes(out)

    return build


class RecordingUpstream:
    """An OpenAI-style upstream that keeps every chat request body it receives and answers with
    the messages it saw (as JSON in the assistant's content), so a client can see them too."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])
        self.url = ""

    async def _chat(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.bodies.append(body)
        return JSONResponse(
            {
                "id": "chatcmpl-recorded",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": body.get("model", "mock-model"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": json.dumps(body["messages"])}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )


@pytest.fixture(scope="session")
def recording_upstream() -> Iterator[RecordingUpstream]:
    upstream = RecordingUpstream()
    with ServerThread(upstream.app) as url:
        upstream.url = url
        yield upstream
