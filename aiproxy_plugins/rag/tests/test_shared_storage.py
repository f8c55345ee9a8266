"""Knowledge bases kept in the core's state API: shared by every gateway process on one backend,
written atomically, bounded in size, dropped with their tenant.

These tests embed with ``WordEmbedder`` (conftest): they are about storage, so they run without
the model, on both backends (a shared SQLite file, and one Redis under one prefix).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from aiproxy_rag.kb_store import MAX_KNOWLEDGE_BASE_BYTES
from aiproxy_sdk import GatewayHarness

VOLCANO = "Volcanoes erupt molten lava from magma chambers deep below the crust."
BEES = "Bees gather nectar from flowers and turn it into honey inside the hive."


def shared_options(backend: dict[str, Any] | None, folder: Path) -> dict[str, Any]:
    """Harness options that put several gateways on one store: one Redis prefix, or one SQLite file."""
    if backend is not None:
        return {"redis": backend}
    folder.mkdir(exist_ok=True)
    return {"config": {"storage": {"path": str(folder / "aiproxy.db")}}}


class Tenant:
    """One tenant's knowledge-base URLs, called through any gateway sharing its store."""

    def __init__(self, owner: GatewayHarness) -> None:
        self.id = owner.tenant["id"]
        self.auth = owner.tenant_auth
        self.url = f"/api/v1/tenants/{self.id}/knowledge-bases"

    async def create(self, via: GatewayHarness, **spec: Any) -> str:
        response = await via.admin.post(self.url, json={"name": "shared", **spec}, headers=self.auth)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def add(self, via: GatewayHarness, kb: str, text: str) -> Any:
        return await via.admin.post(f"{self.url}/{kb}/documents", json={"text": text}, headers=self.auth)

    async def lookup(self, via: GatewayHarness, kb: str, query: str, **options: Any) -> list[dict[str, Any]]:
        response = await via.admin.post(f"{self.url}/{kb}/lookup", json={"query": query, **options}, headers=self.auth)
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    async def documents(self, via: GatewayHarness, kb: str) -> list[str]:
        response = await via.admin.get(f"{self.url}/{kb}/documents", headers=self.auth)
        assert response.status_code == 200, response.text
        return [document["id"] for document in response.json()["data"]]

    async def described(self, via: GatewayHarness, kb: str) -> dict[str, Any]:
        response = await via.admin.get(f"{self.url}/{kb}", headers=self.auth)
        assert response.status_code == 200, response.text
        return dict(response.json())


async def test_a_second_gateway_sees_documents_added_and_deleted_on_the_first(
    rag_gateway: Any, word_embedder: Any, aiproxy_backend: Any, tmp_path: Path
) -> None:
    options = shared_options(aiproxy_backend, tmp_path / "shared")
    first = await rag_gateway(plugin={"embedder": word_embedder}, **options)
    second = await rag_gateway(plugin={"embedder": word_embedder}, **options)
    tenant = Tenant(first)
    kb = await tenant.create(first)

    volcano = (await tenant.add(first, kb, VOLCANO)).json()["id"]
    hits = await tenant.lookup(second, kb, "lava volcanoes")  # the second process loads and caches the base
    assert [hit["document_id"] for hit in hits] == [volcano]

    bees = (await tenant.add(first, kb, BEES)).json()["id"]
    hits = await tenant.lookup(second, kb, "honey bees hive", top_k=1)
    assert [hit["document_id"] for hit in hits] == [bees] and hits[0]["text"] == BEES

    deleted = await second.admin.delete(f"{tenant.url}/{kb}/documents/{volcano}", headers=tenant.auth)
    assert deleted.status_code == 204
    assert [hit["document_id"] for hit in await tenant.lookup(first, kb, "lava volcanoes")] == [bees]
    assert await tenant.documents(first, kb) == [bees]

    assert (await first.admin.delete(f"{tenant.url}/{kb}", headers=tenant.auth)).status_code == 204
    gone = await second.admin.post(f"{tenant.url}/{kb}/lookup", json={"query": "honey"}, headers=tenant.auth)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "knowledge_base_not_found"


async def test_concurrent_ingestions_through_two_gateways_lose_no_document(
    rag_gateway: Any, word_embedder: Any, aiproxy_backend: Any, tmp_path: Path
) -> None:
    options = shared_options(aiproxy_backend, tmp_path / "shared")
    gateways = [await rag_gateway(plugin={"embedder": word_embedder}, **options) for _ in range(2)]
    tenant = Tenant(gateways[0])
    kb = await tenant.create(gateways[0])
    texts = [f"Note {i}: the word marker{i} appears only in this note." for i in range(12)]

    answers = await asyncio.gather(*(tenant.add(gateways[i % 2], kb, text) for i, text in enumerate(texts)))
    assert [answer.status_code for answer in answers] == [201] * len(texts), [a.text for a in answers]
    ids = [answer.json()["id"] for answer in answers]

    for via in gateways:
        assert sorted(await tenant.documents(via, kb)) == sorted(ids)
        described = await tenant.described(via, kb)
        assert (described["document_count"], described["chunk_count"]) == (12, 12)
    for i, document_id in enumerate(ids):  # every chunk is in the index, under its document
        hits = await tenant.lookup(gateways[(i + 1) % 2], kb, f"marker{i}", top_k=1)
        assert hits[0]["document_id"] == document_id and f"marker{i} " in hits[0]["text"]


async def test_a_base_that_would_outgrow_its_value_is_refused_and_keeps_what_it_had(
    rag_gateway: Any, word_embedder: Any, aiproxy_backend: Any
) -> None:
    gateway = await rag_gateway(plugin={"embedder": word_embedder, "max_knowledge_base_bytes": 40_000}, redis=aiproxy_backend)
    tenant = Tenant(gateway)
    kb = await tenant.create(gateway, chunk_size=400, chunk_overlap=0)
    kept = []
    refused = None
    for i in range(40):  # each note is one chunk: ~1.6 KB of vector and text
        answer = await tenant.add(gateway, kb, f"Note {i} about topic{i}. " + "filler words here. " * 15)
        if answer.status_code != 201:
            refused = answer
            break
        kept.append(answer.json()["id"])
    assert refused is not None, "the limit was never reached"
    assert refused.status_code == 413, refused.text
    error = refused.json()["error"]
    assert error["code"] == "knowledge_base_full"
    assert "40000 bytes" in error["message"] and "another knowledge base" in error["message"]
    assert 10 <= len(kept) < 40
    assert await tenant.documents(gateway, kb) == kept
    assert (await tenant.described(gateway, kb))["chunk_count"] == len(kept)
    assert (await tenant.lookup(gateway, kb, "topic3", top_k=1))[0]["document_id"] == kept[3]


def test_the_default_limit_fits_the_state_api_on_every_backend() -> None:
    # 512 MiB per value; Redis keeps bytes as base64 (4/3) behind a one-byte tag.
    assert MAX_KNOWLEDGE_BASE_BYTES * 4 // 3 + 8 < 512 * 1024 * 1024


async def test_bases_live_in_the_state_api_and_go_with_their_tenant(
    rag_gateway: Any, word_embedder: Any, aiproxy_backend: Any
) -> None:
    gateway = await rag_gateway(plugin={"embedder": word_embedder}, redis=aiproxy_backend)
    tenant = Tenant(gateway)
    kb = await tenant.create(gateway)
    assert (await tenant.add(gateway, kb, VOLCANO)).status_code == 201
    values = gateway.gateway.services.state("rag").values(tenant.id)
    assert await values.keys() == [f"base:{kb}", f"contents:{kb}", f"documents:{kb}"]
    assert isinstance(await values.get(f"contents:{kb}"), bytes)  # the FAISS index and chunks, one value
    assert not (Path(gateway.gateway.services.data_dir) / "rag").exists()  # no files of its own any more

    assert (await gateway.admin.delete(f"/api/v1/tenants/{tenant.id}")).status_code == 204
    assert await values.keys() == []


@pytest.mark.parametrize("threshold", [1, 20_000], ids=["hnsw", "flat"])
async def test_bases_survive_a_restart_without_the_model(
    rag_gateway: Any, word_embedder: Any, aiproxy_backend: Any, tmp_path: Path, threshold: int
) -> None:
    options = shared_options(aiproxy_backend, tmp_path / "shared")
    first = await rag_gateway(plugin={"embedder": word_embedder}, **options)
    tenant = Tenant(first)
    kb = await tenant.create(first, hnsw_threshold=threshold)
    volcano = (await tenant.add(first, kb, VOLCANO)).json()["id"]
    bees = (await tenant.add(first, kb, BEES)).json()["id"]
    await first.close()

    second = await rag_gateway(plugin={"embedder": word_embedder}, **options)
    hits = await tenant.lookup(second, kb, "honey from bees", top_k=2)
    assert [hit["document_id"] for hit in hits] == [bees, volcano] and hits[0]["score"] > 0.3
    assert (await tenant.described(second, kb))["index"] == ("hnsw" if threshold == 1 else "flat")
