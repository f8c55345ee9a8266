"""Plugin settings typed ``SecretStr`` are write-only in the Admin API, like rules' ``upstream_headers``.

A plugin of the test's own declares secrets at the top level, in a nested model and in a list of
models; it records what its ``pre_request`` receives, to show the request path gets the real value.
"""

from __future__ import annotations

import copy

import types
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

from aiproxy_core import hookimpl

TOP = "top-secret-value-0001"
NESTED = "nested-token-value-0002"
LISTED = "listed-token-value-0003"
SHORT = "short-1"


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: SecretStr
    label: str = "plain"


class VaultSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: SecretStr | None = None
    public: str = "shown as is"
    nested: Inner | None = None
    many: list[Inner] = []


def vault_plugin(received: list[dict[str, Any]]) -> object:
    def settings_model() -> type[BaseModel]:
        return VaultSettings

    def pre_request(ctx: Any, settings: VaultSettings) -> None:
        received.append(
            {
                "secret": settings.secret.get_secret_value() if settings.secret else None,
                "nested": settings.nested.token.get_secret_value() if settings.nested else None,
                "many": [item.token.get_secret_value() for item in settings.many],
            }
        )

    return types.SimpleNamespace(settings_model=hookimpl(settings_model), pre_request=hookimpl(pre_request))


SETTINGS = {
    "secret": TOP,
    "public": "visible",
    "nested": {"token": NESTED, "label": "n"},
    "many": [{"token": LISTED}, {"token": SHORT}],
}
MASKED = {
    "secret": "****0001",
    "public": "visible",
    "nested": {"token": "****0002", "label": "n"},
    "many": [{"token": "****0003"}, {"token": "****"}],
}
REAL = {"secret": TOP, "nested": NESTED, "many": [LISTED, SHORT]}


@pytest.fixture
def received() -> list[dict[str, Any]]:
    return []


@pytest.fixture
async def gw(aiproxy_gateway_factory, received):
    chain = [{"name": "vault", "settings": SETTINGS}]
    return await aiproxy_gateway_factory(plugins={"vault": vault_plugin(received)}, chain=chain)


def rule_url(gw) -> str:
    return f"/api/v1/tenants/{gw.tenant['id']}/rules/{gw.rule['id']}"


def editable(rule: dict[str, Any]) -> dict[str, Any]:
    """The rule's fields a PUT takes, as a deep copy (tests change nested settings)."""
    return copy.deepcopy({k: v for k, v in rule.items() if k not in {"id", "tenant_id", "created_at", "updated_at"}})


async def stored_settings(gw) -> dict[str, Any]:
    rule = await gw.gateway.store.get_rule(gw.tenant["id"], gw.rule["id"])
    return rule.plugin_chain[0].settings


async def test_rule_answers_mask_secrets_and_the_plugin_gets_the_real_ones(gw, received):
    assert gw.rule["plugin_chain"][0]["settings"] == MASKED  # the create answer
    shown = (await gw.admin.get(rule_url(gw), headers=gw.tenant_auth)).json()
    assert shown["plugin_chain"][0]["settings"] == MASKED
    listed = (await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/rules", headers=gw.tenant_auth)).json()["data"]
    assert listed[0]["plugin_chain"][0]["settings"] == MASKED
    for secret in (TOP, NESTED, LISTED):
        assert secret not in str(shown) and secret not in str(listed) and secret not in str(gw.rule)
    assert await stored_settings(gw) == SETTINGS
    assert (await gw.chat("hi")).status_code == 200
    assert received == [REAL]


async def test_put_back_as_shown_keeps_every_secret(gw, received):
    shown = (await gw.admin.get(rule_url(gw), headers=gw.tenant_auth)).json()
    body = editable(shown) | {"timeout": 30}
    replaced = await gw.admin.put(rule_url(gw), headers=gw.tenant_auth, json=body)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["plugin_chain"][0]["settings"] == MASKED
    assert replaced.json()["timeout"] == 30
    assert await stored_settings(gw) == SETTINGS
    assert (await gw.chat("hi")).status_code == 200
    assert received == [REAL]


async def test_a_chain_reordered_by_the_client_still_keeps_its_secrets(gw, received):
    shown = (await gw.admin.get(rule_url(gw), headers=gw.tenant_auth)).json()
    body = editable(shown)
    body["plugin_chain"] = [{"name": "vault", "enabled": False}, *body["plugin_chain"]]
    replaced = await gw.admin.put(rule_url(gw), headers=gw.tenant_auth, json=body)
    assert replaced.status_code == 200, replaced.text
    rule = await gw.gateway.store.get_rule(gw.tenant["id"], gw.rule["id"])
    assert rule.plugin_chain[1].settings == SETTINGS


async def test_a_new_secret_replaces_the_stored_one(gw, received):
    body = editable(gw.rule)
    body["plugin_chain"][0]["settings"]["secret"] = "a-brand-new-secret-9999"
    replaced = await gw.admin.put(rule_url(gw), headers=gw.tenant_auth, json=body)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["plugin_chain"][0]["settings"]["secret"] == "****9999"
    assert (await gw.chat("hi")).status_code == 200
    assert received[-1]["secret"] == "a-brand-new-secret-9999"
    assert received[-1]["nested"] == NESTED  # still masked as shown: kept


@pytest.mark.parametrize(
    ("path", "foreign", "field"),
    [
        (("secret",), "****zzzz", "plugin_chain.0.settings.secret"),
        (("nested", "token"), "****0001", "plugin_chain.0.settings.nested.token"),  # another field's mask
        (("many", 0, "token"), "****", "plugin_chain.0.settings.many.0.token"),
        (("many", 1, "token"), "****0003", "plugin_chain.0.settings.many.1.token"),
    ],
)
async def test_a_foreign_masked_value_is_refused_and_changes_nothing(gw, received, path, foreign, field):
    body = editable(gw.rule) | {"timeout": 30}
    target = body["plugin_chain"][0]["settings"]
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = foreign
    refused = await gw.admin.put(rule_url(gw), headers=gw.tenant_auth, json=body)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "masked_secret"
    assert error["details"][0]["field"] == field
    assert field in error["message"]
    assert await stored_settings(gw) == SETTINGS
    assert (await gw.admin.get(rule_url(gw), headers=gw.tenant_auth)).json()["timeout"] is None
    assert (await gw.chat("hi")).status_code == 200
    assert received == [REAL]


async def test_a_masked_value_in_a_new_rule_is_refused(gw):
    body = {"path": "/v2", "target": gw.rule["target"], "plugin_chain": [{"name": "vault", "settings": MASKED}]}
    refused = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/rules", headers=gw.tenant_auth, json=body)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "masked_secret"
    assert refused.json()["error"]["details"][0]["field"] == "plugin_chain.0.settings.secret"
    assert len(await gw.gateway.store.list_rules(gw.tenant["id"])) == 1


async def test_another_rules_mask_does_not_unlock_its_secret(gw):
    """A mask is compared with the rule being replaced only: a second rule cannot borrow the first's secret."""
    other = {"path": "/v2", "target": gw.rule["target"], "plugin_chain": [{"name": "vault", "settings": {"public": "p"}}]}
    made = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/rules", headers=gw.tenant_auth, json=other)
    assert made.status_code == 201, made.text
    body = editable(made.json())
    body["plugin_chain"][0]["settings"]["secret"] = "****0001"
    url = f"/api/v1/tenants/{gw.tenant['id']}/rules/{made.json()['id']}"
    refused = await gw.admin.put(url, headers=gw.tenant_auth, json=body)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "masked_secret"


# -- a tenant's required_plugins ----------------------------------------------------------------


async def test_required_plugin_secrets_are_masked_and_kept_on_patch(aiproxy_gateway_factory, received):
    gw = await aiproxy_gateway_factory(plugins={"vault": vault_plugin(received)}, tenant={"required_plugins": {"vault": {"settings": SETTINGS}}})
    url = f"/api/v1/tenants/{gw.tenant['id']}"
    assert gw.tenant["required_plugins"]["vault"]["settings"] == MASKED  # the create answer
    shown = (await gw.admin.get(url)).json()
    assert shown["required_plugins"]["vault"]["settings"] == MASKED
    listed = (await gw.admin.get("/api/v1/tenants")).json()["data"]
    assert [t["required_plugins"]["vault"]["settings"] for t in listed] == [MASKED]

    patched = await gw.admin.patch(url, json={"name": "Renamed", "required_plugins": shown["required_plugins"]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["required_plugins"]["vault"]["settings"] == MASKED
    assert (await gw.gateway.store.get_tenant(gw.tenant["id"])).required_plugins["vault"].settings == SETTINGS
    assert (await gw.chat("hi")).status_code == 200
    assert received == [REAL]

    foreign = {"vault": {"settings": MASKED | {"nested": {"token": "****9999"}}}}
    refused = await gw.admin.patch(url, json={"name": "Again", "required_plugins": foreign})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "masked_secret"
    assert refused.json()["error"]["details"][0]["field"] == "required_plugins.vault.settings.nested.token"
    stored = await gw.gateway.store.get_tenant(gw.tenant["id"])
    assert stored.name == "Renamed" and stored.required_plugins["vault"].settings == SETTINGS


async def test_a_masked_value_in_a_new_tenant_is_refused(aiproxy_gateway_factory, received):
    gw = await aiproxy_gateway_factory(plugins={"vault": vault_plugin(received)})
    body = {"name": "Masked", "subdomain": "masked", "required_plugins": {"vault": {"settings": MASKED}}}
    refused = await gw.admin.post("/api/v1/tenants", json=body)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "masked_secret"
    assert "masked" not in [t.subdomain for t in await gw.gateway.store.list_tenants()]
