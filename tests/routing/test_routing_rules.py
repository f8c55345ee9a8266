"""Saving rules with ``targets`` and ``routing``: what is refused (and why), secrets kept
write-only per target, and the targets endpoint kept to the rule's own tenant."""

from __future__ import annotations

import pytest


def rules_url(gw) -> str:
    return f"/api/v1/tenants/{gw.tenant['id']}/rules"


async def save(gw, body: dict):
    return await gw.admin.post(rules_url(gw), headers=gw.tenant_auth, json={"path": "/other", **body})


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"target": "http://127.0.0.1:9/v1", "targets": [{"url": "http://127.0.0.1:9"}]}, "either target"),
        ({}, "either target"),
        ({"targets": []}, "at least 1"),
        ({"targets": [{"url": "http://127.0.0.1:9"}] * 17}, "at most 16"),
        ({"targets": [{"url": "http://127.0.0.1:9", "name": "a"}, {"url": "http://127.0.0.1:9", "name": "a"}]}, "named 'a'"),
        ({"targets": [{"url": "http://127.0.0.1:9", "name": "a b"}]}, "target name"),
        ({"targets": [{"url": "http://127.0.0.1:9", "weight": 0}]}, "greater than or equal to 1"),
        ({"targets": [{"url": "http://127.0.0.1:9", "provider": "bedrock"}]}, "openai"),
        ({"targets": [{"url": "http://127.0.0.1:9?api_key=sk-1"}]}, "credential parameter"),
        ({"targets": [{"url": "http://user:pw@127.0.0.1:9"}]}, "user name or password"),
        ({"targets": [{"url": "http://127.0.0.1:9", "upstream_headers": {"X-A": "1\r\nX-B: 2"}}]}, "control character"),
        ({"targets": [{"url": "http://127.0.0.1:9"}], "routing": {"strategy": "random"}}, "fallback"),
        ({"targets": [{"url": "http://127.0.0.1:9"}], "routing": {"retries": {"retry_on": ["sometimes"]}}}, "retry_on"),
        ({"targets": [{"url": "http://127.0.0.1:9"}], "routing": {"retries": {"retry_on": [200]}}}, "not an error status"),
        ({"targets": [{"url": "http://127.0.0.1:9"}], "routing": {"strategy": "conditional"}}, "at least one entry in conditions"),
        (
            {"targets": [{"url": "http://127.0.0.1:9"}], "routing": {"conditions": [{"match": {"model": "x"}, "targets": [0]}]}},
            "only to strategy 'conditional'",
        ),
        (
            {"targets": [{"url": "http://127.0.0.1:9"}], "routing": {"strategy": "conditional", "conditions": [{"match": {}, "targets": [3]}]}},
            "index 3 does not exist",
        ),
        (
            {"targets": [{"url": "http://127.0.0.1:9"}], "routing": {"strategy": "conditional", "conditions": [{"match": {}, "targets": ["x"]}]}},
            "no target is named 'x'",
        ),
        ({"target": "http://127.0.0.1:9", "client_format": "gemini"}, "anthropic"),
    ],
)
async def test_bad_routing_is_refused_with_what_to_fix(aiproxy_gateway, body, words):
    before = (await aiproxy_gateway.admin.get(rules_url(aiproxy_gateway), headers=aiproxy_gateway.tenant_auth)).json()
    response = await save(aiproxy_gateway, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert words in response.text, error
    assert "sk-1" not in response.text and "pw@" not in response.text
    after = (await aiproxy_gateway.admin.get(rules_url(aiproxy_gateway), headers=aiproxy_gateway.tenant_auth)).json()
    assert after == before


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest", "http://10.0.0.8:8080", "http://[::1]:9000"])
async def test_every_target_is_held_to_the_target_policy(aiproxy_gateway, aiproxy_mock_upstream, url):
    response = await save(aiproxy_gateway, {"targets": [{"url": aiproxy_mock_upstream}, {"url": url}]})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "target_not_allowed"


async def test_target_credentials_are_write_only(aiproxy_gateway, aiproxy_mock_upstream):
    secret = "sk-target-secret-1234"
    body = {
        "targets": [
            {"url": aiproxy_mock_upstream, "name": "a", "upstream_headers": {"Authorization": f"Bearer {secret}", "X-Plain": "shown"}},
            {"url": aiproxy_mock_upstream, "name": "b"},
        ],
        "routing": {"strategy": "fallback"},
    }
    created = await save(aiproxy_gateway, body)
    assert created.status_code == 201, created.text
    shown = created.json()
    assert secret not in created.text
    headers = shown["targets"][0]["upstream_headers"]
    assert headers["X-Plain"] == "shown" and headers["Authorization"].endswith("1234")
    rule_url = f"{rules_url(aiproxy_gateway)}/{shown['id']}"
    listed = await aiproxy_gateway.admin.get(rules_url(aiproxy_gateway), headers=aiproxy_gateway.tenant_auth)
    assert secret not in listed.text

    # Sent back as shown: the stored secret is kept (the upstream still gets it).
    replace = {k: v for k, v in shown.items() if k not in {"id", "tenant_id", "created_at", "updated_at"}}
    kept = await aiproxy_gateway.admin.put(rule_url, headers=aiproxy_gateway.tenant_auth, json=replace)
    assert kept.status_code == 200, kept.text
    stored = await aiproxy_gateway.gateway.store.get_rule(aiproxy_gateway.tenant["id"], shown["id"])
    assert stored.targets[0].upstream_headers["Authorization"] == f"Bearer {secret}"

    # A mask moved to another target masks nothing stored there: refused, nothing changed.
    moved = {**replace, "targets": [replace["targets"][1] | {"upstream_headers": headers}, replace["targets"][0]]}
    refused = await aiproxy_gateway.admin.put(rule_url, headers=aiproxy_gateway.tenant_auth, json=moved)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "masked_secret"
    stored = await aiproxy_gateway.gateway.store.get_rule(aiproxy_gateway.tenant["id"], shown["id"])
    assert stored.targets[0].upstream_headers["Authorization"] == f"Bearer {secret}"


async def test_the_targets_endpoint_is_the_rule_owners_only(aiproxy_gateway_factory, aiproxy_mock_upstream):
    owner = await aiproxy_gateway_factory(rule={"target": None, "targets": [{"url": aiproxy_mock_upstream, "name": "a"}]})
    created = await owner.admin.post("/api/v1/tenants", json={"name": "Other", "subdomain": "other-tenant"})
    assert created.status_code == 201, created.text
    other = created.json()
    other_auth = {"Authorization": f"Bearer {other['api_key']}"}
    await owner.chat()
    path = f"/api/v1/tenants/{owner.tenant['id']}/rules/{owner.rule['id']}/targets"
    mine = await owner.admin.get(path, headers=owner.tenant_auth)
    assert mine.status_code == 200
    assert [(t["index"], t["name"], t["circuit"]) for t in mine.json()["data"]] == [(0, "a", "closed")]
    assert (await owner.admin.get(path, headers=other_auth)).status_code == 401  # not this tenant's key
    assert (await owner.admin.get(path)).status_code == 401
    crossed = f"/api/v1/tenants/{other['id']}/rules/{owner.rule['id']}/targets"
    response = await owner.admin.get(crossed, headers=other_auth)
    assert response.status_code == 404 and response.json()["error"]["code"] == "rule_not_found"


@pytest.mark.parametrize(
    "prices",
    [
        {"gpt-4o": {"input": -1, "output": 1}},
        {"gpt-4o": {"input": "2.5", "output": 1}},
        {"gpt-4o": {"input": 1}},
        {"gpt-4o": {"input": 1, "output": 1, "surprise": 1}},
        {"bad\nname": {"input": 1, "output": 1}},
        {"GPT-4o": {"input": 1, "output": 1}, "gpt-4o": {"input": 2, "output": 2}},
        None,
    ],
)
async def test_bad_tenant_prices_are_refused_and_change_nothing(aiproxy_gateway, prices):
    url = f"/api/v1/tenants/{aiproxy_gateway.tenant['id']}"
    good = await aiproxy_gateway.admin.patch(url, json={"model_prices": {"my-model": {"input": 1.5, "output": 3}}})
    assert good.status_code == 200, good.text
    assert good.json()["model_prices"] == {"my-model": {"input": 1.5, "output": 3.0, "cached_input": None, "cache_write_input": None}}
    refused = await aiproxy_gateway.admin.patch(url, json={"model_prices": prices})
    assert refused.status_code == 422, refused.text
    assert (await aiproxy_gateway.admin.get(url)).json()["model_prices"] == good.json()["model_prices"]
