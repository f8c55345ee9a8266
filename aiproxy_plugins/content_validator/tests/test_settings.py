"""Settings are refused when saved: pydantic errors naming the field, and 422 from the Admin API."""

from __future__ import annotations

import importlib.metadata

import pytest
from pydantic import ValidationError

from aiproxy_content_validator import ContentValidatorSettings, plugin


def first_error(settings: dict) -> dict:
    with pytest.raises(ValidationError) as caught:
        ContentValidatorSettings.model_validate(settings)
    return caught.value.errors()[0]


def test_defaults_check_nothing():
    settings = ContentValidatorSettings()
    assert not settings.checks_request_content
    assert not settings.checks_response
    assert settings.request_validator is None


def test_patterns_and_schemas_are_compiled_once():
    settings = ContentValidatorSettings.model_validate(
        {"deny_patterns": [r"(?i)\bsecret\b"], "request_schema": {"type": "object", "required": ["model"]}}
    )
    assert settings.deny_patterns[0].search("a SECRET plan")
    assert settings.request_validator is settings.request_validator
    assert not settings.request_validator.is_valid({})


@pytest.mark.parametrize(
    ("settings", "loc", "words"),
    [
        ({"deny_patterns": ["ok", "(unclosed"]}, ("deny_patterns", 1), "not a valid regular expression"),
        ({"allow_patterns": ["[z-a]"]}, ("allow_patterns", 0), "bad character range"),
        ({"response_deny_patterns": ["*x"]}, ("response_deny_patterns", 0), "nothing to repeat"),
        ({"deny_patterns": ["x" * 1001]}, ("deny_patterns", 0), "at most 1000"),
        ({"request_schema": {"type": "objekt"}}, ("request_schema",), "not a valid JSON Schema"),
        ({"response_schema": {"properties": {"a": {"minLength": -1}}}}, ("response_schema",), "$.properties.a.minLength"),
        ({"request_schema": {"$ref": "https://example.com/schema.json"}}, ("request_schema",), "only references inside"),
        ({"request_schema": {"$ref": "#/$defs/missing"}}, ("request_schema",), "points to nothing"),
        ({"request_schema": "object"}, ("request_schema",), "dictionary"),
        ({"clamp_max_tokens": True}, ("clamp_max_tokens",), "needs max_tokens_cap"),
        ({"allowed_models": []}, ("allowed_models",), "at least 1"),
        ({"max_tokens_cap": 0}, ("max_tokens_cap",), "greater than or equal to 1"),
        ({"deny_pattern": ["x"]}, ("deny_pattern",), "Extra inputs"),
    ],
)
def test_invalid_settings_name_the_field(settings, loc, words):
    error = first_error(settings)
    assert error["loc"] == loc
    assert words in error["msg"]


def test_local_references_are_allowed():
    settings = ContentValidatorSettings.model_validate(
        {"request_schema": {"$defs": {"role": {"enum": ["user", "system"]}}, "properties": {"role": {"$ref": "#/$defs/role"}}}}
    )
    assert not settings.request_validator.is_valid({"role": "admin"})


def test_the_entry_point_names_the_plugin_module():
    (entry,) = [ep for ep in importlib.metadata.entry_points(group="aiproxy") if ep.name == "content_validator"]
    assert entry.value == "aiproxy_content_validator.plugin"
    assert entry.load() is plugin
    assert entry.dist is not None and entry.dist.name == "aiproxy-content-validator"


# -- through the Admin API --------------------------------------------------------------------


async def test_a_tenant_with_a_bad_regex_gets_422(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(plugins={"content_validator": plugin})
    response = await gw.admin.post(
        "/api/v1/tenants",
        json={"name": "Bad", "subdomain": "bad", "required_plugins": {"content_validator": {"settings": {"deny_patterns": ["(a"]}}}},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_plugin_settings"
    assert "content_validator" in error["message"]
    assert error["details"][0] == {
        "field": "required_plugins.content_validator.settings.deny_patterns.0",
        "plugin": "content_validator",
        "message": "Value error, not a valid regular expression: missing ), unterminated subpattern at position 0",
    }


async def test_a_rule_with_a_bad_json_schema_gets_422_and_is_not_saved(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(plugins={"content_validator": plugin})
    rules = f"/api/v1/tenants/{gw.tenant['id']}/rules"
    response = await gw.admin.post(
        rules,
        headers=gw.tenant_auth,
        json={
            "path": "/v2",
            "target": gw.rule["target"],
            "plugin_chain": [{"name": "content_validator", "settings": {"request_schema": {"type": 12}}}],
        },
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_plugin_settings"
    assert error["details"][0]["field"] == "plugin_chain.0.settings.request_schema"
    assert "not a valid JSON Schema" in error["details"][0]["message"]
    listed = await gw.admin.get(rules, headers=gw.tenant_auth)
    assert [r["path"] for r in listed.json()["data"]] == ["/v1"]


async def test_a_rule_replaced_with_a_bad_regex_keeps_its_old_chain(aiproxy_gateway_factory):
    good = [{"name": "content_validator", "settings": {"deny_patterns": ["fine"]}}]
    gw = await aiproxy_gateway_factory(plugins={"content_validator": plugin}, chain=good)
    url = f"/api/v1/tenants/{gw.tenant['id']}/rules/{gw.rule['id']}"
    bad = [{"name": "content_validator", "settings": {"response_deny_patterns": ["x++("]}}]
    response = await gw.admin.put(url, headers=gw.tenant_auth, json={"path": "/v1", "target": gw.rule["target"], "plugin_chain": bad})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "plugin_chain.0.settings.response_deny_patterns.0"
    assert (await gw.admin.get(url, headers=gw.tenant_auth)).json()["plugin_chain"][0]["settings"] == {"deny_patterns": ["fine"]}
