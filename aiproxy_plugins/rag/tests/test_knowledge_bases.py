"""The Admin API of knowledge bases, on both backends (files beside SQLite, and Redis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # ingesting and looking up embed with the real model

ZORBIA = "The capital of Zorbia is Quxville, a city famous for its glass bridges."
COOKING = "To poach an egg, simmer water gently and add a splash of vinegar before sliding the egg in."


async def test_create_list_get_delete(rag_gateway: Any, knowledge: Any, aiproxy_backend: Any) -> None:
    api = knowledge(await rag_gateway(redis=aiproxy_backend))
    admin, auth = api.harness.admin, api.harness.tenant_auth
    base = await api.create(name="Handbook", chunk_size=400, chunk_overlap=50)
    assert base["id"].startswith("kb_") and base["name"] == "Handbook"
    assert (base["chunk_size"], base["chunk_overlap"], base["document_count"], base["index"]) == (400, 50, 0, "flat")
    other = await api.create(name="Other")
    listed = (await admin.get(api.url(), headers=auth)).json()["data"]
    assert [b["id"] for b in listed] == [base["id"], other["id"]]
    got = await admin.get(api.url(f"/{base['id']}"), headers=auth)
    assert got.status_code == 200 and got.json()["name"] == "Handbook"
    assert (await admin.delete(api.url(f"/{base['id']}"), headers=auth)).status_code == 204
    assert (await admin.get(api.url(f"/{base['id']}"), headers=auth)).status_code == 404
    assert (await admin.delete(api.url(f"/{base['id']}"), headers=auth)).status_code == 404
    assert [b["id"] for b in (await admin.get(api.url(), headers=auth)).json()["data"]] == [other["id"]]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"name": " "}, 422),
        ({"name": "x", "chunk_size": 10}, 422),
        ({"name": "x", "chunk_size": 400, "chunk_overlap": 300}, 422),
        ({"name": "x", "color": "red"}, 422),
        ([1, 2], 400),
    ],
)
async def test_bad_knowledge_bases_are_refused_and_nothing_is_stored(rag_gateway: Any, knowledge: Any, body: Any, status: int) -> None:
    api = knowledge(await rag_gateway())
    response = await api.harness.admin.post(api.url(), json=body, headers=api.harness.tenant_auth)
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert (await api.harness.admin.get(api.url(), headers=api.harness.tenant_auth)).json()["data"] == []


async def test_calls_without_the_tenant_key_are_refused(rag_gateway: Any, knowledge: Any) -> None:
    api = knowledge(await rag_gateway())
    assert (await api.harness.admin.get(api.url())).status_code == 401
    response = await api.harness.admin.get(api.url(), headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401


async def test_documents_are_ingested_listed_looked_up_and_deleted(rag_gateway: Any, knowledge: Any, aiproxy_backend: Any) -> None:
    api = knowledge(await rag_gateway(redis=aiproxy_backend))
    admin, auth = api.harness.admin, api.harness.tenant_auth
    kb = (await api.create())["id"]
    zorbia = await api.add_text(kb, ZORBIA, title="Zorbia", metadata={"source": "atlas"})
    assert zorbia["id"].startswith("doc_") and zorbia["chunk_count"] == 1 and zorbia["metadata"] == {"source": "atlas"}
    cooking = await api.add_text(kb, COOKING)
    listed = (await admin.get(api.url(f"/{kb}/documents"), headers=auth)).json()["data"]
    assert [d["id"] for d in listed] == [zorbia["id"], cooking["id"]]

    found = await api.lookup(kb, "What is the capital city of Zorbia?", top_k=2)
    assert found.status_code == 200, found.text
    hits = found.json()["data"]
    assert [h["document_id"] for h in hits] == [zorbia["id"], cooking["id"]]
    assert hits[0]["score"] > 0.5 > hits[1]["score"] and hits[0]["text"] == ZORBIA
    assert hits[0]["chunk_id"] == f"{zorbia['id']}:0" and hits[0]["title"] == "Zorbia"
    assert found.json()["index"] == "flat"

    assert (await admin.delete(api.url(f"/{kb}/documents/{zorbia['id']}"), headers=auth)).status_code == 204
    assert (await admin.delete(api.url(f"/{kb}/documents/{zorbia['id']}"), headers=auth)).status_code == 404
    hits = (await api.lookup(kb, "What is the capital city of Zorbia?")).json()["data"]
    assert [h["document_id"] for h in hits] == [cooking["id"]]
    base = (await admin.get(api.url(f"/{kb}"), headers=auth)).json()
    assert (base["document_count"], base["chunk_count"]) == (1, 1)


async def test_long_documents_are_chunked_with_the_base_settings(rag_gateway: Any, knowledge: Any) -> None:
    api = knowledge(await rag_gateway())
    kb = (await api.create(chunk_size=200, chunk_overlap=30))["id"]
    text = "\n\n".join(f"Section {i}. " + " ".join(f"Point {i}.{j} is made here." for j in range(8)) for i in range(5))
    document = await api.add_text(kb, text)
    assert document["chunk_count"] >= 5
    hits = (await api.lookup(kb, "Point 3.4", top_k=50)).json()["data"]
    assert len(hits) == document["chunk_count"] and all(len(h["text"]) <= 200 for h in hits)


async def test_raw_text_markdown_and_pdf_uploads(rag_gateway: Any, knowledge: Any, make_pdf: Any) -> None:
    api = knowledge(await rag_gateway())
    admin, auth = api.harness.admin, api.harness.tenant_auth
    kb = (await api.create())["id"]
    url = api.url(f"/{kb}/documents")
    pdf = make_pdf(["Quarterly report of the Acme company.", "Acme's revenue in the third quarter was 42 million euros."])
    response = await admin.post(url + "?title=Q3&filename=q3.pdf", content=pdf, headers={**auth, "Content-Type": "application/pdf"})
    assert response.status_code == 201, response.text
    document = response.json()
    assert (document["content_type"], document["title"], document["metadata"]) == ("application/pdf", "Q3", {"filename": "q3.pdf"})
    markdown = "# Holidays\n\nThe office is closed on the first Monday of August."
    response = await admin.post(url, content=markdown.encode(), headers={**auth, "Content-Type": "text/markdown; charset=utf-8"})
    assert response.status_code == 201, response.text
    hits = (await api.lookup(kb, "How much revenue did Acme make in Q3?", top_k=1)).json()["data"]
    assert hits[0]["document_id"] == document["id"] and "42 million" in hits[0]["text"]
    hits = (await api.lookup(kb, "When is the office closed?", top_k=1)).json()["data"]
    assert "first Monday of August" in hits[0]["text"]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b'{"text": ""}', "application/json", 422, None),
        (b'{"text": "   "}', "application/json", 422, None),
        (b'{"text": "x", "extra": 1}', "application/json", 422, None),
        (b'{"text": 5}', "application/json", 422, None),
        (b"{not json", "application/json", 400, "invalid_json"),
        (b"%PDF-1.4 garbage", "application/pdf", 400, "unreadable_pdf"),
        (b"\xff\xfe\xfa", "text/plain", 400, "invalid_encoding"),
        (b"   ", "text/plain", 400, "empty_document"),
        (b"<html></html>", "text/html", 415, "unsupported_media_type"),
    ],
)
async def test_bad_documents_are_refused_and_nothing_changes(
    rag_gateway: Any, knowledge: Any, content: bytes, content_type: str, status: int, code: str | None
) -> None:
    api = knowledge(await rag_gateway())
    admin, auth = api.harness.admin, api.harness.tenant_auth
    kb = (await api.create())["id"]
    response = await admin.post(api.url(f"/{kb}/documents"), content=content, headers={**auth, "Content-Type": content_type})
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code
    assert (await admin.get(api.url(f"/{kb}/documents"), headers=auth)).json()["data"] == []


async def test_bad_lookups_and_unknown_ids(rag_gateway: Any, knowledge: Any) -> None:
    api = knowledge(await rag_gateway())
    admin, auth = api.harness.admin, api.harness.tenant_auth
    kb = (await api.create())["id"]
    assert (await api.lookup(kb, "")).status_code == 422
    assert (await api.lookup(kb, "q", top_k=0)).status_code == 422
    assert (await api.lookup(kb, "q")).json()["data"] == []  # an empty base answers nothing
    for unknown in ("kb_0000000000000000", "not-a-kb", "kb_..%2F..%2Fx"):
        assert (await admin.get(api.url(f"/{unknown}"), headers=auth)).status_code == 404
    assert (await admin.delete(api.url(f"/{kb}/documents/doc_0000000000000000"), headers=auth)).status_code == 404


async def test_one_tenant_never_sees_another_tenants_bases(rag_gateway: Any, knowledge: Any, aiproxy_backend: Any) -> None:
    first = knowledge(await rag_gateway(redis=aiproxy_backend))
    kb = (await first.create(name="secret"))["id"]
    await first.add_text(kb, ZORBIA)
    # A second tenant on the same gateway, with its own key.
    made = await first.harness.admin.post("/api/v1/tenants", json={"name": "Other", "subdomain": "othertenant"})
    assert made.status_code == 201, made.text
    other = made.json()
    other_auth = {"Authorization": f"Bearer {other['api_key']}"}
    other_url = f"/api/v1/tenants/{other['id']}/knowledge-bases"
    admin = first.harness.admin
    assert (await admin.get(other_url, headers=other_auth)).json()["data"] == []
    for method, path, body in [
        ("GET", f"/{kb}", None),
        ("DELETE", f"/{kb}", None),
        ("GET", f"/{kb}/documents", None),
        ("POST", f"/{kb}/documents", {"text": "planted"}),
        ("POST", f"/{kb}/lookup", {"query": "Zorbia"}),
    ]:
        response = await admin.request(method, other_url + path, json=body, headers=other_auth)
        assert response.status_code == 404, (method, path, response.text)
    # Its key does not open the first tenant's URLs either.
    assert (await admin.get(first.url(f"/{kb}"), headers=other_auth)).status_code in (401, 403)
    assert len((await first.lookup(kb, "Zorbia")).json()["data"]) == 1


async def test_bases_survive_a_restart(rag_gateway: Any, knowledge: Any, aiproxy_backend: Any, tmp_path: Path) -> None:
    options: dict[str, Any] = {"redis": aiproxy_backend}
    if aiproxy_backend is None:
        options["config"] = {"storage": {"path": str(tmp_path / "shared" / "aiproxy.db")}}
        (tmp_path / "shared").mkdir()
    first = knowledge(await rag_gateway(**options))
    kb = (await first.create())["id"]
    document = await first.add_text(kb, ZORBIA)
    await first.lookup(kb, "Zorbia")
    tenant_id, auth = first.harness.tenant["id"], first.harness.tenant_auth
    await first.harness.close()

    second = await rag_gateway(**options)
    url = f"/api/v1/tenants/{tenant_id}/knowledge-bases/{kb}"
    found = await second.admin.post(url + "/lookup", json={"query": "capital of Zorbia"}, headers=auth)
    assert found.status_code == 200, found.text
    assert found.json()["data"][0]["document_id"] == document["id"]
    # The index was stored with the document (one bytes value), not rebuilt by the new process.
    assert isinstance(await second.gateway.services.state("rag").values(tenant_id).get(f"contents:{kb}"), bytes)


async def test_large_bases_switch_to_hnsw(rag_gateway: Any, knowledge: Any, aiproxy_backend: Any) -> None:
    api = knowledge(await rag_gateway(redis=aiproxy_backend))
    kb = (await api.create(hnsw_threshold=5))["id"]
    topics = ["volcanoes erupt lava", "bees make honey", "trains run on rails", "chess has sixty-four squares"]
    for i in range(8):
        await api.add_text(kb, f"Note {i}: {topics[i % 4]}.")
    found = await api.lookup(kb, "How do bees produce honey?", top_k=3)
    assert found.json()["index"] == "hnsw"
    assert "bees make honey" in found.json()["data"][0]["text"]
    base = (await api.harness.admin.get(api.url(f"/{kb}"), headers=api.harness.tenant_auth)).json()
    assert base["index"] == "hnsw" and base["chunk_count"] == 8


async def test_deleting_a_tenant_deletes_its_knowledge_bases(rag_gateway: Any, knowledge: Any) -> None:
    gw = await rag_gateway()
    api = knowledge(gw)
    kb = await api.create()
    plugin = gw.gateway.registry.manager.get_plugin("rag")
    assert [b.id for b in await plugin.runtime().store.list_bases(gw.tenant["id"])] == [kb["id"]]
    assert (await gw.admin.delete(f"/api/v1/tenants/{gw.tenant['id']}")).status_code == 204
    assert await plugin.runtime().store.list_bases(gw.tenant["id"]) == []


async def test_the_entry_point_deletes_a_deleted_tenants_knowledge_bases(aiproxy_gateway_factory: Any, knowledge: Any) -> None:
    gw = await aiproxy_gateway_factory(load_installed_plugins=True)
    kb = await knowledge(gw).create()
    store = gw.gateway.registry.manager.get_plugin("rag").runtime().store
    assert [b.id for b in await store.list_bases(gw.tenant["id"])] == [kb["id"]]
    assert (await gw.admin.delete(f"/api/v1/tenants/{gw.tenant['id']}")).status_code == 204
    assert await store.list_bases(gw.tenant["id"]) == []
