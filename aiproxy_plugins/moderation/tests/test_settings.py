"""Settings are refused when saved: pydantic errors naming the field, and 422 from the Admin API."""

from __future__ import annotations

import importlib.metadata

import pytest
from pydantic import ValidationError

from aiproxy_moderation import ModerationSettings, plugin


def first_error(settings: dict) -> dict:
    with pytest.raises(ValidationError) as caught:
        ModerationSettings.model_validate(settings)
    return caught.value.errors()[0]


def test_defaults_block_harassment_and_redact_pii():
    settings = ModerationSettings()
    assert settings.action_for("harassment") == "block"
    assert settings.action_for("pii") == "redact"
    assert settings.needs_profanity_model and not settings.needs_embedder
    assert settings.checks_pii


@pytest.mark.parametrize(
    ("settings", "loc", "words"),
    [
        ({"pii_patterns": ["ok\\d", "(unclosed"]}, ("pii_patterns", 1, "pattern"), "not a valid regular expression"),
        ({"pii_patterns": ["a*"]}, ("pii_patterns", 0, "pattern"), "matches the empty string"),
        ({"pii_patterns": [{"type": "lower", "pattern": "x"}]}, ("pii_patterns", 0), "upper case"),
        ({"actions": {"harassment": "explode"}}, ("actions", "harassment"), "'block', 'flag', 'redact' or 'off'"),
        ({"actions": {"Bad Name": "flag"}}, ("actions",), "not a category name"),
        ({"actions": {"harassment": "redact"}}, (), "applies to pii only"),
        ({"backend": "remote"}, (), "remote_url is required"),
        ({"backend": "remote", "remote_url": "not a url"}, ("remote_url",), "URL"),
        ({"thresholds": {"harassment": 1.5}}, ("thresholds", "harassment"), "less than or equal to 1"),
        ({"pii_types": ["SSN"]}, ("pii_types", 0), "'EMAIL'"),
        ({"deny_topic": ["x"]}, ("deny_topic",), "Extra inputs"),
    ],
)
def test_invalid_settings_name_the_field(settings, loc, words):
    error = first_error(settings)
    assert error["loc"] == loc
    assert words in error["msg"]


def test_the_entry_point_names_the_plugin_module():
    (entry,) = [ep for ep in importlib.metadata.entry_points(group="aiproxy") if ep.name == "moderation"]
    assert entry.value == "aiproxy_moderation.plugin"
    assert entry.load() is plugin
    assert entry.dist is not None and entry.dist.name == "aiproxy-moderation"


async def test_a_rule_with_a_bad_regex_gets_422_naming_plugin_and_field(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(plugins={"moderation": plugin})
    response = await gw.admin.post(
        f"/api/v1/tenants/{gw.tenant['id']}/rules",
        headers=gw.tenant_auth,
        json={"path": "/v2", "target": gw.rule["target"], "plugin_chain": [{"name": "moderation", "settings": {"pii_patterns": ["[a-"]}}]},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_plugin_settings"
    assert error["details"][0]["plugin"] == "moderation"
    assert error["details"][0]["field"] == "plugin_chain.0.settings.pii_patterns.0.pattern"
    assert "not a valid regular expression" in error["details"][0]["message"]


async def test_a_tenant_requiring_bad_settings_gets_422(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(plugins={"moderation": plugin})
    response = await gw.admin.post(
        "/api/v1/tenants",
        json={"name": "Bad", "subdomain": "badmod", "required_plugins": {"moderation": {"settings": {"actions": {"hate": "redact"}}}}},
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["plugin"] == "moderation"
