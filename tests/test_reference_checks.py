"""The ``check_references`` hook: a chain entry naming an id its tenant does not have is refused when saved.

A plugin of the test's own keeps "things" per tenant (as rag keeps knowledge bases and billing
plans); both tenants live on one gateway, on each store.
"""

from __future__ import annotations

import types
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from aiproxy_core import ServiceUnavailable, hookimpl


class ThingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thing: str
    spare: str | None = None


def thing_plugin(things: dict[str, set[str]], calls: list[tuple[str, str]], failure: list[Exception]) -> object:
    def settings_model() -> type[BaseModel]:
        return ThingSettings

    async def check_references(tenant_id: str, settings: ThingSettings, services: Any) -> dict[str, str]:
        assert services.store is not None
        calls.append((tenant_id, settings.thing))
        if failure:
            raise failure[0]
        mine = things.get(tenant_id, set())
        problems = {}
        for field in ("thing", "spare"):
            value = getattr(settings, field)
            if value is not None and value not in mine:
                problems[field] = f"tenant {tenant_id} has no thing {value!r}"
        return problems

    return types.SimpleNamespace(settings_model=hookimpl(settings_model), check_references=hookimpl(check_references))


@pytest.fixture
def things() -> dict[str, set[str]]:
    return {}


@pytest.fixture
def calls() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def failure() -> list[Exception]:
    return []


@pytest.fixture
async def two_tenants(aiproxy_gateway_factory, aiproxy_backend, things, calls, failure):
    """One gateway with tenant A (the harness's) and tenant B, each owning one thing."""
    gw = await aiproxy_gateway_factory(plugins={"things": thing_plugin(things, calls, failure)}, redis=aiproxy_backend)
    made = await gw.admin.post("/api/v1/tenants", json={"name": "B", "subdomain": "tenant-b"})
    assert made.status_code == 201, made.text
    tenant_b = made.json()
    things[gw.tenant["id"]] = {"thing-of-a"}
    things[tenant_b["id"]] = {"thing-of-b"}
    return gw, tenant_b


def rules_url(gw) -> str:
    return f"/api/v1/tenants/{gw.tenant['id']}/rules"


def rule_body(gw, settings: dict[str, Any]) -> dict[str, Any]:
    return {"path": "/v2", "target": gw.rule["target"], "plugin_chain": [{"name": "things", "settings": settings}]}


async def test_hook_check_references_refuses_another_tenants_id_in_a_rule(two_tenants, calls):
    gw, tenant_b = two_tenants
    refused = await gw.admin.post(rules_url(gw), headers=gw.tenant_auth, json=rule_body(gw, {"thing": "thing-of-b"}))
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "reference_not_found"
    assert error["details"] == [
        {"field": "plugin_chain.0.settings.thing", "plugin": "things", "message": f"tenant {gw.tenant['id']} has no thing 'thing-of-b'"}
    ]
    assert "plugin_chain.0.settings.thing" in error["message"]
    assert tenant_b["id"] not in refused.text  # nothing says where the id does exist
    assert calls == [(gw.tenant["id"], "thing-of-b")]
    assert [r.path for r in await gw.gateway.store.list_rules(gw.tenant["id"])] == ["/v1"]

    created = await gw.admin.post(rules_url(gw), headers=gw.tenant_auth, json=rule_body(gw, {"thing": "thing-of-a"}))
    assert created.status_code == 201, created.text


async def test_hook_check_references_on_replace_keeps_the_stored_rule(two_tenants):
    gw, _ = two_tenants
    url = f"{rules_url(gw)}/{gw.rule['id']}"
    body = rule_body(gw, {"thing": "thing-of-a", "spare": "thing-of-b"}) | {"path": "/v1"}
    refused = await gw.admin.put(url, headers=gw.tenant_auth, json=body)
    assert refused.status_code == 422
    assert [d["field"] for d in refused.json()["error"]["details"]] == ["plugin_chain.0.settings.spare"]
    assert (await gw.gateway.store.get_rule(gw.tenant["id"], gw.rule["id"])).plugin_chain == []


async def test_hook_check_references_for_required_plugins(two_tenants, things):
    gw, tenant_b = two_tenants
    url = f"/api/v1/tenants/{tenant_b['id']}"
    refused = await gw.admin.patch(url, json={"required_plugins": {"things": {"settings": {"thing": "thing-of-a"}}}})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "reference_not_found"
    assert refused.json()["error"]["details"][0]["field"] == "required_plugins.things.settings.thing"
    assert (await gw.gateway.store.get_tenant(tenant_b["id"])).required_plugins == {}

    ok = await gw.admin.patch(url, json={"required_plugins": {"things": {"settings": {"thing": "thing-of-b"}}}})
    assert ok.status_code == 200, ok.text
    # A PATCH that leaves required_plugins alone is not refused because an id went away since.
    things[tenant_b["id"]].clear()
    assert (await gw.admin.patch(url, json={"name": "B renamed"})).status_code == 200

    # A new tenant owns nothing yet: naming any thing is refused, and no tenant is created.
    body = {"name": "C", "subdomain": "tenant-c", "required_plugins": {"things": {"settings": {"thing": "thing-of-a"}}}}
    refused = await gw.admin.post("/api/v1/tenants", json=body)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "reference_not_found"
    assert "tenant-c" not in [t.subdomain for t in await gw.gateway.store.list_tenants()]


async def test_hook_check_references_that_fails_is_503_and_saves_nothing(two_tenants, failure, caplog):
    gw, _ = two_tenants
    failure.append(RuntimeError("store connection lost at 10.1.2.3"))
    refused = await gw.admin.post(rules_url(gw), headers=gw.tenant_auth, json=rule_body(gw, {"thing": "thing-of-a"}))
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "plugin_unavailable"
    assert "10.1.2.3" not in refused.text and "Traceback" not in refused.text
    assert any("check_references" in r.getMessage() for r in caplog.records)
    failure[0] = ServiceUnavailable("things are resting", code="things_resting")
    refused = await gw.admin.post(rules_url(gw), headers=gw.tenant_auth, json=rule_body(gw, {"thing": "thing-of-a"}))
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "things_resting"
    assert [r.path for r in await gw.gateway.store.list_rules(gw.tenant["id"])] == ["/v1"]
