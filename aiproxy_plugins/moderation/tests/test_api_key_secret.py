"""The remote backend's ``api_key`` is write-only in the Admin API, and still authenticates after a PUT as shown."""

from __future__ import annotations

import copy

from typing import Any

KEY = "sk-remote-test"  # what the fake endpoint accepts (conftest)


def editable(rule: dict[str, Any]) -> dict[str, Any]:
    """The rule's fields a PUT takes, as a deep copy (tests change nested settings)."""
    return copy.deepcopy({k: v for k, v in rule.items() if k not in {"id", "tenant_id", "created_at", "updated_at"}})


async def test_the_api_key_is_masked_kept_on_put_and_still_authenticates(make_gateway, remote_moderation, remote_calls):
    settings = {"backend": "remote", "remote_url": f"{remote_moderation}/v1/moderations", "api_key": KEY}
    gw = await make_gateway(settings)
    url = f"/api/v1/tenants/{gw.tenant['id']}/rules/{gw.rule['id']}"
    assert gw.rule["plugin_chain"][0]["settings"]["api_key"] == "****test"
    shown = (await gw.admin.get(url, headers=gw.tenant_auth)).json()
    assert shown["plugin_chain"][0]["settings"]["api_key"] == "****test"
    assert KEY not in str(shown)

    again = await gw.admin.put(url, headers=gw.tenant_auth, json=editable(shown))
    assert again.status_code == 200, again.text
    stored = await gw.gateway.store.get_rule(gw.tenant["id"], gw.rule["id"])
    assert stored.plugin_chain[0].settings["api_key"] == KEY
    before = len(remote_calls)
    flagged = await gw.chat("a story full of violence")  # the endpoint answers only with the right key
    assert flagged.status_code == 400, flagged.text
    assert flagged.json()["error"]["details"][0]["categories"] == ["violence"]
    assert len(remote_calls) == before + 1

    foreign = editable(shown)
    foreign["plugin_chain"][0]["settings"]["api_key"] = "****abcd"
    refused = await gw.admin.put(url, headers=gw.tenant_auth, json=foreign)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "masked_secret"
    assert refused.json()["error"]["details"][0]["field"] == "plugin_chain.0.settings.api_key"
    stored = await gw.gateway.store.get_rule(gw.tenant["id"], gw.rule["id"])
    assert stored.plugin_chain[0].settings["api_key"] == KEY
    assert (await gw.chat("a story full of violence")).status_code == 400


def test_the_api_key_is_hidden_in_reprs_and_errors():
    import pytest
    from pydantic import ValidationError

    from aiproxy_moderation.settings import ModerationSettings

    settings = ModerationSettings.model_validate({"backend": "remote", "remote_url": "https://m.example/v1/moderations", "api_key": KEY})
    assert KEY not in repr(settings)
    with pytest.raises(ValidationError) as caught:
        ModerationSettings.model_validate({"backend": "remote", "remote_url": "nope", "api_key": KEY * 100})
    assert KEY not in str(caught.value)
