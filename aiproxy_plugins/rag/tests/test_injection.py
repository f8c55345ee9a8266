"""Retrieved context in chat requests: what the upstream receives, headers and annotations."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import openai
import pytest

from aiproxy_core import GatewayConfig, PluginRegistry, hookimpl
from aiproxy_rag import RagPlugin
from aiproxy_sdk import LiveGateway

ZORBIA = "The capital of Zorbia is Quxville, a city famous for its glass bridges."
COOKING = "To poach an egg, simmer water gently and add a splash of vinegar before sliding the egg in."


def test_the_last_user_message_is_the_question() -> None:
    from aiproxy_rag.injection import last_user_text

    messages = [
        {"role": "user", "content": "old"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": [{"type": "text", "text": "new"}, {"type": "image_url", "image_url": {"url": "x"}}]},
    ]
    assert last_user_text(messages) == (2, "new")
    assert last_user_text([{"role": "system", "content": "s"}]) is None


@pytest.mark.slow
async def test_context_goes_in_as_a_system_message(rag_gateway: Any, knowledge: Any, recording_upstream: Any, aiproxy_backend: Any) -> None:
    gateway = await rag_gateway(upstream_url=recording_upstream.url, redis=aiproxy_backend)
    api = knowledge(gateway)
    kb = (await api.create())["id"]
    zorbia = await api.add_text(kb, ZORBIA, title="Atlas")
    await api.add_text(kb, COOKING)
    await gateway.set_chain([{"name": "rag", "settings": {"knowledge_base": kb, "top_k": 3, "min_score": 0.3}}])
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of Zorbia?"}]
    response = await gateway.proxy.post("/v1/chat/completions", json={"model": "m", "messages": messages})
    assert response.status_code == 200, response.text
    assert response.headers["x-rag-sources"] == zorbia["id"]  # the egg text scores below 0.3
    sent = recording_upstream.bodies[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "system", "user"]
    assert sent[0]["content"] == "Be brief." and sent[2] == messages[1]
    assert "Quxville" in sent[1]["content"] and f"[1] Atlas ({zorbia['id']})" in sent[1]["content"]
    assert "poach" not in sent[1]["content"]


@pytest.mark.slow
async def test_user_placement_template_and_annotations(rag_gateway: Any, knowledge: Any, recording_upstream: Any) -> None:
    seen: dict[str, Any] = {}

    class Spy:  # reads the annotations after the rag entry ran
        @hookimpl
        def post_response(self, ctx: Any) -> None:
            seen.update(ctx.annotations)

    gateway = await rag_gateway(upstream_url=recording_upstream.url)
    gateway.gateway.registry.register(Spy(), "spy")
    api = knowledge(gateway)
    kb = (await api.create())["id"]
    zorbia = await api.add_text(kb, ZORBIA)
    settings = {"knowledge_base": kb, "as": "user", "template": "Q: {question}\nFacts: {context}", "top_k": 1}
    await gateway.set_chain([{"name": "rag", "settings": settings}, {"name": "spy"}])
    response = await gateway.chat("Which city is Zorbia's capital?")
    assert response.status_code == 200
    sent = recording_upstream.bodies[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "user"]
    assert sent[0]["content"].startswith("Q: Which city is Zorbia's capital?\nFacts: [1] ")
    for _ in range(50):  # post_response runs after the answer
        if "rag" in seen:
            break
        await asyncio.sleep(0.02)
    assert seen["rag"]["sources"] == [zorbia["id"]] and seen["rag"]["chunks"][0]["score"] > 0.5


@pytest.mark.slow
async def test_nothing_relevant_leaves_the_request_alone(rag_gateway: Any, knowledge: Any, recording_upstream: Any) -> None:
    gateway = await rag_gateway(upstream_url=recording_upstream.url)
    api = knowledge(gateway)
    kb = (await api.create())["id"]
    await api.add_text(kb, ZORBIA)
    await gateway.set_chain([{"name": "rag", "settings": {"knowledge_base": kb, "min_score": 0.6}}])
    response = await gateway.chat("How do I poach an egg?")
    assert response.status_code == 200 and response.headers["x-rag-sources"] == ""
    assert recording_upstream.bodies[-1]["messages"] == [{"role": "user", "content": "How do I poach an egg?"}]


@pytest.mark.slow
async def test_a_deleted_base_fails_the_request_clearly(rag_gateway: Any, knowledge: Any) -> None:
    gateway = await rag_gateway()
    api = knowledge(gateway)
    kb = (await api.create())["id"]
    await gateway.set_chain([{"name": "rag", "settings": {"knowledge_base": kb}}])
    await gateway.admin.delete(api.url(f"/{kb}"), headers=gateway.tenant_auth)
    response = await gateway.chat("anything")
    assert response.status_code == 404 and response.json()["error"]["code"] == "knowledge_base_not_found"


@pytest.mark.slow
def test_the_openai_client_gets_an_answer_from_an_ingested_document(tmp_path: Any, recording_upstream: Any) -> None:
    registry = PluginRegistry()
    registry.register(RagPlugin(), "rag")
    config = GatewayConfig.model_validate(
        {
            "server": {"base_domain": "gateway.test"},
            "storage": {"path": str(tmp_path / "aiproxy.db")},
            "upstream": {"allowed_networks": ["127.0.0.1/32"]},  # the recording upstream is on loopback
        }
    )
    with LiveGateway(config, registry) as live, httpx.Client(base_url=live.admin_url, timeout=60) as admin:
        tenant = admin.post("/api/v1/tenants", json={"name": "Live", "subdomain": "live"}).json()
        auth = {"Authorization": f"Bearer {tenant['api_key']}"}
        bases = f"/api/v1/tenants/{tenant['id']}/knowledge-bases"
        kb = admin.post(bases, json={"name": "atlas"}, headers=auth).json()["id"]
        document = admin.post(f"{bases}/{kb}/documents", json={"text": ZORBIA}, headers=auth).json()
        admin.post(f"{bases}/{kb}/documents", json={"text": COOKING}, headers=auth).raise_for_status()
        rule = admin.post(
            f"/api/v1/tenants/{tenant['id']}/rules",
            json={"path": "/v1", "target": recording_upstream.url, "plugin_chain": [{"name": "rag", "settings": {"knowledge_base": kb}}]},
            headers=auth,
        )
        assert rule.status_code == 201, rule.text
        client = openai.OpenAI(base_url=live.proxy_url + "/v1", api_key=tenant["api_key"], default_headers={"Host": "live.gateway.test"})
        raw = client.chat.completions.with_raw_response.create(
            model="mock-model", messages=[{"role": "user", "content": "What is the capital of Zorbia?"}]
        )
        assert raw.headers["x-rag-sources"] == document["id"]
        completion = raw.parse()
        received = json.loads(completion.choices[0].message.content or "[]")  # what the upstream saw
        assert received[0]["role"] == "system" and "Quxville" in received[0]["content"]
        assert received[-1] == {"role": "user", "content": "What is the capital of Zorbia?"}
