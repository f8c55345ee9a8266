from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from aiproxy_rag import RagPlugin, RagSettings

KB = "kb_0123456789abcdef"


def test_defaults_and_the_as_alias() -> None:
    settings = RagSettings.model_validate({"knowledge_base": KB, "as": "user"})
    assert (settings.top_k, settings.min_score, settings.as_) == (3, 0.3, "user")
    assert "{context}" in RagSettings(knowledge_base=KB).template


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"knowledge_base": "../etc"},
        {"knowledge_base": KB, "top_k": 0},
        {"knowledge_base": KB, "min_score": 2},
        {"knowledge_base": KB, "as": "assistant"},
        {"knowledge_base": KB, "template": "no placeholder"},
        {"knowledge_base": KB, "template": "{context} {secret}"},
        {"knowledge_base": KB, "unknown": 1},
    ],
)
def test_bad_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RagSettings.model_validate(bad)


async def test_a_rule_with_bad_settings_is_refused_when_saved(rag_gateway: Any) -> None:
    gateway = await rag_gateway()
    rule_url = f"/api/v1/tenants/{gateway.tenant['id']}/rules/{gateway.rule['id']}"
    body = {k: v for k, v in gateway.rule.items() if k not in {"id", "tenant_id", "created_at", "updated_at"}}
    body["plugin_chain"] = [{"name": "rag", "settings": {"knowledge_base": KB, "top_k": 99}}]
    response = await gateway.admin.put(rule_url, json=body, headers=gateway.tenant_auth)
    assert response.status_code == 422
    assert "rag" in response.text and "top_k" in response.text


async def test_a_gateway_with_rag_in_no_chain_does_not_load_the_model(rag_gateway: Any) -> None:
    """rag installed but unused costs nothing at start (the model is seconds of CPU and ~100s of MB)."""
    unused = await rag_gateway()
    assert not unused.gateway.registry.manager.get_plugin("rag").preloading


@pytest.mark.slow
async def test_a_saved_rag_chain_preloads_the_model_at_startup(
    rag_gateway: Any, knowledge: Any, aiproxy_gateway_factory: Any, tmp_path: Any
) -> None:
    shared = {"storage": {"path": str(tmp_path / "shared.db")}}
    first = await rag_gateway(config=shared)
    kb = await knowledge(first).create()
    rule = await first.admin.post(
        f"/api/v1/tenants/{first.tenant['id']}/rules",
        json={"path": "/docs", "target": "http://127.0.0.1:9", "plugin_chain": [{"name": "rag", "settings": {"knowledge_base": kb["id"]}}]},
        headers=first.tenant_auth,
    )
    assert rule.status_code == 201, rule.text
    await first.gateway.stop()
    plugin = RagPlugin()
    await aiproxy_gateway_factory(plugins={"rag": plugin}, config=shared)
    assert plugin.preloading  # loading starts in the background, so the first question does not wait for it
