"""The HMAC secret is write-only in the Admin API: masked in answers, kept when sent back as shown."""

from __future__ import annotations

import copy

import json

PATH = "/v1/chat/completions"
BODY = json.dumps({"model": "mock-model", "messages": [{"role": "user", "content": "signed hello"}]}).encode()
JSON = {"Content-Type": "application/json"}


def editable(rule: dict) -> dict:
    """The rule's fields a PUT takes, as a deep copy (tests change nested settings)."""
    return copy.deepcopy({k: v for k, v in rule.items() if k not in {"id", "tenant_id", "created_at", "updated_at"}})


async def test_the_hmac_secret_is_masked_and_put_back_as_shown_still_verifies(make_gateway, sign, hmac_secret):
    gw = await make_gateway({"hmac": {"secret": hmac_secret, "tolerance_seconds": 60}})
    url = f"/api/v1/tenants/{gw.tenant['id']}/rules/{gw.rule['id']}"
    mask = "****" + hmac_secret[-4:]
    assert gw.rule["plugin_chain"][0]["settings"]["hmac"] == {"secret": mask, "tolerance_seconds": 60}
    shown = (await gw.admin.get(url, headers=gw.tenant_auth)).json()
    assert shown["plugin_chain"][0]["settings"]["hmac"]["secret"] == mask
    assert hmac_secret not in json.dumps(shown)

    body = editable(shown)
    body["plugin_chain"][0]["settings"]["allowed_methods"] = ["POST"]
    replaced = await gw.admin.put(url, headers=gw.tenant_auth, json=body)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["plugin_chain"][0]["settings"]["hmac"]["secret"] == mask
    signed = await gw.proxy.post(PATH, content=BODY, headers={**JSON, **sign("POST", PATH, BODY)})
    assert signed.status_code == 200, signed.text  # the stored secret still verifies
    unsigned = await gw.proxy.post(PATH, content=BODY, headers=JSON)
    assert unsigned.status_code == 401


async def test_a_foreign_masked_secret_is_refused_and_changes_nothing(make_gateway, sign, hmac_secret):
    gw = await make_gateway({"hmac": {"secret": hmac_secret}})
    url = f"/api/v1/tenants/{gw.tenant['id']}/rules/{gw.rule['id']}"
    body = editable(gw.rule)
    body["plugin_chain"][0]["settings"]["hmac"]["secret"] = "****" + "wxyz"
    refused = await gw.admin.put(url, headers=gw.tenant_auth, json=body)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "masked_secret"
    assert error["details"][0]["field"] == "plugin_chain.0.settings.hmac.secret"
    stored = await gw.gateway.store.get_rule(gw.tenant["id"], gw.rule["id"])
    assert stored.plugin_chain[0].settings["hmac"]["secret"] == hmac_secret
    signed = await gw.proxy.post(PATH, content=BODY, headers={**JSON, **sign("POST", PATH, BODY)})
    assert signed.status_code == 200, signed.text


async def test_a_required_plugins_secret_is_masked_on_the_tenant(aiproxy_gateway_factory, sign, hmac_secret):
    from aiproxy_security_validator import plugin

    tenant = {"required_plugins": {"security_validator": {"settings": {"hmac": {"secret": hmac_secret}}}}}
    gw = await aiproxy_gateway_factory(plugins={"security_validator": plugin}, tenant=tenant)
    shown = (await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}")).json()
    assert shown["required_plugins"]["security_validator"]["settings"]["hmac"]["secret"] == "****" + hmac_secret[-4:]
    patched = await gw.admin.patch(f"/api/v1/tenants/{gw.tenant['id']}", json={"required_plugins": shown["required_plugins"]})
    assert patched.status_code == 200, patched.text
    signed = await gw.proxy.post(PATH, content=BODY, headers={**JSON, **sign("POST", PATH, BODY)})
    assert signed.status_code == 200, signed.text
