"""Settings are refused when saved (pydantic errors naming the field; 422 from the Admin API)."""

from __future__ import annotations

import importlib.metadata

import pytest
from pydantic import ValidationError

from aiproxy_core import ChainEntry
from aiproxy_security_validator import SecurityValidatorSettings, plugin


def error_fields(settings: dict) -> list[tuple]:
    with pytest.raises(ValidationError) as caught:
        SecurityValidatorSettings.model_validate(settings)
    return [e["loc"] for e in caught.value.errors()]


def test_defaults_check_nothing():
    settings = SecurityValidatorSettings()
    assert not settings.checks_ip and settings.hmac is None and settings.required_headers == []


def test_values_are_normalised():
    settings = SecurityValidatorSettings.model_validate(
        {"allowed_methods": ["post", "Get"], "allowed_content_types": [" Application/JSON "], "allow_ips": ["::1", "10.0.0.0/8"]}
    )
    assert settings.allowed_methods == ["POST", "GET"]
    assert settings.allowed_content_types == ["application/json"]
    assert [str(n) for n in settings.allow_ips] == ["::1/128", "10.0.0.0/8"]


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"allow_ips": ["10.0.0.1/8"]}, ("allow_ips", 0)),
        ({"deny_ips": ["10.0.0.0/8", "not-a-network"]}, ("deny_ips", 1)),
        ({"trusted_proxies": ["10.0.0.0/8"]}, ("trusted_proxies",)),
        ({"allow_ips": []}, ("allow_ips",)),
        ({"allowed_methods": []}, ("allowed_methods",)),
        ({"allowed_methods": ["GE T"]}, ("allowed_methods", 0)),
        ({"required_headers": ["X Request"]}, ("required_headers", 0)),
        ({"allowed_content_types": ["application/json; charset=utf-8"]}, ("allowed_content_types", 0)),
        ({"allowed_content_types": ["json"]}, ("allowed_content_types", 0)),
        ({"max_body_bytes": -1}, ("max_body_bytes",)),
        ({"hmac": {"secret": "short"}}, ("hmac", "secret")),
        ({"hmac": {"secret": "s" * 16, "algorithm": "md5"}}, ("hmac", "algorithm")),
        ({"hmac": {"secret": "s" * 16, "tolerance_seconds": 0}}, ("hmac", "tolerance_seconds")),
        ({"required_header": ["X-Request-ID"]}, ("required_header",)),
    ],
)
def test_invalid_settings_name_the_field(settings, field):
    assert field in error_fields(settings)


def test_a_rejected_secret_is_not_echoed():
    with pytest.raises(ValidationError) as caught:
        SecurityValidatorSettings.model_validate({"hmac": {"secret": "hunter2-short"}})
    assert "hunter2" not in str(caught.value)


def test_the_secret_is_hidden_in_reprs():
    settings = SecurityValidatorSettings.model_validate({"hmac": {"secret": "hunter2-hunter2-hunter2"}})
    assert "hunter2" not in repr(settings)


def test_the_entry_point_names_the_plugin_module():
    (entry,) = [ep for ep in importlib.metadata.entry_points(group="aiproxy") if ep.name == "security_validator"]
    assert entry.value == "aiproxy_security_validator.plugin"
    assert entry.load() is plugin
    assert entry.dist is not None and entry.dist.name == "aiproxy-security-validator"


# -- through the Admin API --------------------------------------------------------------------


async def test_a_tenant_with_bad_settings_gets_422(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(plugins={"security_validator": plugin})
    response = await gw.admin.post(
        "/api/v1/tenants",
        json={
            "name": "Bad",
            "subdomain": "bad",
            "required_plugins": {"security_validator": {"settings": {"allow_ips": ["10.0.0.1/8"]}}},
        },
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_plugin_settings"
    assert "security_validator" in error["message"]
    assert error["details"][0]["field"] == "required_plugins.security_validator.settings.allow_ips.0"
    assert "host bits set" in error["details"][0]["message"]
    listed = await gw.admin.get("/api/v1/tenants")
    assert "bad" not in [t["subdomain"] for t in listed.json()["data"]]


async def test_a_rule_with_bad_settings_gets_422_and_keeps_the_old_chain(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(plugins={"security_validator": plugin})
    url = f"/api/v1/tenants/{gw.tenant['id']}/rules/{gw.rule['id']}"
    body = {"path": "/v1", "target": gw.rule["target"], "plugin_chain": [
        {"name": "security_validator", "settings": {"hmac": {"secret": "too-short"}}}
    ]}
    response = await gw.admin.put(url, headers=gw.tenant_auth, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"][0]["field"] == "plugin_chain.0.settings.hmac.secret"
    assert "too-short" not in response.text
    assert (await gw.admin.get(url, headers=gw.tenant_auth)).json()["plugin_chain"] == []


# -- trusted_proxies moved to the operator's server.trusted_proxies -----------------------------


@pytest.mark.parametrize("value", [["10.0.0.0/8"], [], None])
def test_trusted_proxies_is_refused_saying_where_it_went(value):
    with pytest.raises(ValidationError) as caught:
        SecurityValidatorSettings.model_validate({"trusted_proxies": value})
    (error,) = caught.value.errors()
    assert error["loc"] == ("trusted_proxies",)
    assert "server.trusted_proxies" in error["msg"]
    assert "trusted_proxies" not in SecurityValidatorSettings.model_json_schema()["properties"]


async def test_a_rule_with_trusted_proxies_gets_422_naming_the_operators_setting(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(plugins={"security_validator": plugin})
    url = f"/api/v1/tenants/{gw.tenant['id']}/rules/{gw.rule['id']}"
    body = {"path": "/v1", "target": gw.rule["target"], "plugin_chain": [
        {"name": "security_validator", "settings": {"allow_ips": ["10.0.0.0/8"], "trusted_proxies": ["203.0.113.0/24"]}}
    ]}
    response = await gw.admin.put(url, headers=gw.tenant_auth, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_plugin_settings"
    assert error["details"][0]["field"] == "plugin_chain.0.settings.trusted_proxies"
    assert "server.trusted_proxies" in error["details"][0]["message"]
    assert (await gw.admin.get(url, headers=gw.tenant_auth)).json()["plugin_chain"] == []


async def test_a_stored_rule_with_trusted_proxies_is_refused_not_half_applied(aiproxy_gateway_factory):
    """A rule saved before the setting moved: its chain no longer compiles, so no request gets
    through with the IP policy silently dropped, and the log says why."""
    gw = await aiproxy_gateway_factory(plugins={"security_validator": plugin})
    rule = await gw.gateway.store.get_rule(gw.tenant["id"], gw.rule["id"])
    old = {"allow_ips": ["198.51.100.0/24"], "trusted_proxies": ["203.0.113.0/24"]}
    await gw.gateway.store.put_rule(rule.model_copy(update={"plugin_chain": [ChainEntry(name="security_validator", settings=old)]}))
    response = await gw.chat("hi", headers={"X-Forwarded-For": "198.51.100.20"})
    assert response.status_code >= 500, response.text  # never 200 past a policy it cannot apply
    assert set(response.json()["error"]) >= {"type", "code", "message", "request_id"}
