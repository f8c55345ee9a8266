"""required_headers, including the seed's tenant body (required_plugins.security_validator)."""

from __future__ import annotations

import importlib.metadata
import inspect
import json

import pytest

from aiproxy_sdk.seed_examples import SEED_TENANT

def seed_tenant() -> dict:
    body = json.loads(SEED_TENANT)
    # enabled_plugins names rate_limiter, which this test's gateway does not have installed; the
    # core refuses unknown names (422), and the list only limits what *rules* may use, so it is
    # dropped here to keep this test independent of the rate_limiter plugin.
    del body["enabled_plugins"]
    return body


async def test_seed_tenant_requires_x_request_id(aiproxy_gateway_factory):
    from aiproxy_security_validator import plugin

    gw = await aiproxy_gateway_factory(plugins={"security_validator": plugin}, tenant=seed_tenant())
    assert gw.tenant["subdomain"] == "testcompany"
    assert gw.tenant["required_plugins"]["security_validator"]["settings"] == {"required_headers": ["X-Request-ID"]}

    refused = await gw.chat("hi")
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "missing_required_header"
    assert "X-Request-ID" in error["message"]
    assert error["details"] == [{"plugin": "security_validator", "check": "required_headers", "missing": ["X-Request-ID"]}]

    passed = await gw.chat("hi", headers={"X-Request-ID": "req-123"})
    assert passed.status_code == 200, passed.text
    assert passed.json()["choices"][0]["message"]["content"] == "You said: hi"
    assert passed.headers["x-request-id"] == "req-123"


def installed_plugin(name: str) -> object | None:
    for entry in importlib.metadata.entry_points(group="aiproxy"):
        if entry.name == name:
            loaded = entry.load()
            return loaded() if inspect.isclass(loaded) else loaded
    return None


async def test_seed_tenant_verbatim_when_rate_limiter_is_installed(aiproxy_gateway_factory):
    """The whole seed body, enabled_plugins included, when a rate_limiter plugin is installed."""
    rate_limiter = installed_plugin("rate_limiter")
    if rate_limiter is None:
        pytest.skip("no rate_limiter plugin installed: the seed's enabled_plugins would be refused")
    from aiproxy_security_validator import plugin

    gw = await aiproxy_gateway_factory(
        plugins={"security_validator": plugin, "rate_limiter": rate_limiter}, tenant=json.loads(SEED_TENANT)
    )
    assert gw.tenant["enabled_plugins"] == ["rate_limiter"]
    assert (await gw.chat("hi")).json()["error"]["code"] == "missing_required_header"
    assert (await gw.chat("hi", headers={"X-Request-ID": "req-123"})).status_code == 200


async def test_header_names_are_case_insensitive(make_gateway):
    gw = await make_gateway({"required_headers": ["X-Request-ID"]})
    response = await gw.chat("hi", headers={"x-request-id": "abc"})
    assert response.status_code == 200, response.text


async def test_empty_value_counts_as_missing(make_gateway):
    gw = await make_gateway({"required_headers": ["X-Client"]})
    response = await gw.chat("hi", headers={"X-Client": "  "})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_required_header"


async def test_every_missing_header_is_named(make_gateway):
    gw = await make_gateway({"required_headers": ["X-Request-ID", "X-Client", "X-Team"]})
    response = await gw.chat("hi", headers={"X-Client": "web"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["details"][0]["missing"] == ["X-Request-ID", "X-Team"]
    assert "X-Request-ID, X-Team" in error["message"]


async def test_refusal_uses_the_standard_envelope(make_gateway):
    gw = await make_gateway({"required_headers": ["X-Request-ID"]})
    response = await gw.chat("hi")
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"type", "code", "message", "request_id", "details"}
    assert error["type"] == "invalid_request_error"
    assert error["request_id"] == response.headers["x-request-id"]
