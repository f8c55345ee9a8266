"""The Admin API's tenants: shapes, uniqueness, validation, and bad input that changes nothing."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field


@pytest.fixture
async def admin(aiproxy_gateway_factory, plugin_maker, aiproxy_backend):
    """A gateway whose registry has a 'limiter' plugin with a settings model, and its admin client."""

    class LimiterSettings(BaseModel):
        limit: int = Field(gt=0)
        window: str = "1m"

    limiter = plugin_maker("limiter", settings_model=lambda: LimiterSettings, pre_request=lambda ctx: None)
    gw = await aiproxy_gateway_factory(plugins={"limiter": limiter}, redis=aiproxy_backend)
    return gw


def tenant_body(**overrides):
    body = {
        "name": "Test Company",
        "subdomain": "testcompany",
        "tier": "pro",
        "enabled_plugins": ["limiter"],
        "required_plugins": {
            "limiter": {"name": "limiter", "enabled": True, "priority": 1, "stage": "pre_request", "settings": {"limit": 100}}
        },
    }
    body.update(overrides)
    return body


async def snapshot(gw) -> list:
    return (await gw.admin.get("/api/v1/tenants")).json()["data"]


async def test_create_returns_id_subdomain_and_a_key_shown_once(admin):
    created = await admin.admin.post("/api/v1/tenants", json=tenant_body())
    assert created.status_code == 201, created.text
    tenant = created.json()
    assert tenant["id"].startswith("tnt_") and tenant["subdomain"] == "testcompany"
    assert tenant["api_key"].startswith("aip_")
    fetched = (await admin.admin.get(f"/api/v1/tenants/{tenant['id']}")).json()
    assert "api_key" not in fetched
    assert fetched["required_plugins"]["limiter"]["settings"] == {"limit": 100}
    listed = await snapshot(admin)
    assert tenant["id"] in [t["id"] for t in listed] and all("api_key" not in t for t in listed)


async def test_patch_and_delete(admin):
    tenant = (await admin.admin.post("/api/v1/tenants", json=tenant_body())).json()
    patched = await admin.admin.patch(f"/api/v1/tenants/{tenant['id']}", json={"tier": "enterprise", "name": "Renamed"})
    assert patched.status_code == 200 and patched.json()["tier"] == "enterprise" and patched.json()["name"] == "Renamed"
    assert patched.json()["subdomain"] == "testcompany"
    assert (await admin.admin.delete(f"/api/v1/tenants/{tenant['id']}")).status_code == 204
    gone = await admin.admin.get(f"/api/v1/tenants/{tenant['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "tenant_not_found"
    assert (await admin.admin.delete(f"/api/v1/tenants/{tenant['id']}")).status_code == 404


async def test_names_and_subdomains_are_unique(admin):
    assert (await admin.admin.post("/api/v1/tenants", json=tenant_body())).status_code == 201
    before = await snapshot(admin)
    same_sub = await admin.admin.post("/api/v1/tenants", json=tenant_body(name="Other"))
    assert same_sub.status_code == 409 and same_sub.json()["error"]["code"] == "subdomain_taken"
    same_name = await admin.admin.post("/api/v1/tenants", json=tenant_body(subdomain="other"))
    assert same_name.status_code == 409 and same_name.json()["error"]["code"] == "tenant_name_taken"
    assert await snapshot(admin) == before


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (b"{not json", 400, "invalid_json", None),
        (b"[1, 2]", 400, "invalid_body", None),
        (b"", 400, "missing_body", None),
        (b'{"name": 5, "subdomain": "ok"}', 422, "validation_error", "name"),
        (b'{"name": "x", "subdomain": "Not A Subdomain!"}', 422, "validation_error", "subdomain"),
        (b'{"name": "x", "subdomain": "ok", "tier": ["pro"]}', 422, "validation_error", "tier"),
        (b'{"name": "x", "subdomain": "ok", "surprise": 1}', 422, "validation_error", "surprise"),
        (b'{"name": "x", "subdomain": "ok", "enabled_plugins": ["nope"]}', 422, "unknown_plugin", "enabled_plugins"),
        (b'{"name": "x", "subdomain": "ok", "required_plugins": {"nope": {}}}', 422, "unknown_plugin", "required_plugins.nope"),
        (
            b'{"name": "x", "subdomain": "ok", "required_plugins": {"limiter": {"settings": {"limit": -1}}}}',
            422,
            "invalid_plugin_settings",
            "required_plugins.limiter.settings.limit",
        ),
        (
            b'{"name": "x", "subdomain": "ok", "required_plugins": {"limiter": {"stage": "post_response"}}}',
            422,
            "invalid_stage",
            "required_plugins.limiter.stage",
        ),
    ],
)
async def test_bad_input_gets_a_clear_4xx_and_changes_nothing(admin, body, status, code, field):
    await admin.admin.post("/api/v1/tenants", json=tenant_body())
    before = await snapshot(admin)
    response = await admin.admin.post("/api/v1/tenants", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if field:
        assert field in error["message"]
    assert await snapshot(admin) == before


async def test_settings_errors_name_plugin_and_field(admin):
    response = await admin.admin.post(
        "/api/v1/tenants", json=tenant_body(required_plugins={"limiter": {"settings": {"limit": "lots"}}})
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_plugin_settings"
    assert "'limiter'" in error["message"] and "settings.limit" in error["message"]
    assert error["details"][0]["plugin"] == "limiter"


async def test_oversize_admin_body_is_413_and_changes_nothing(admin):
    before = await snapshot(admin)
    huge = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'", "subdomain": "big"}'
    response = await admin.admin.post("/api/v1/tenants", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"
    assert await snapshot(admin) == before


async def test_bad_patch_changes_nothing(admin):
    tenant = (await admin.admin.post("/api/v1/tenants", json=tenant_body())).json()
    other = (await admin.admin.post("/api/v1/tenants", json=tenant_body(name="B", subdomain="bee"))).json()
    before = await snapshot(admin)
    for body, status in (({"subdomain": "bee"}, 409), ({"tier": 3}, 422), ({"enabled_plugins": ["ghost"]}, 422), ({"id": "x"}, 422)):
        response = await admin.admin.patch(f"/api/v1/tenants/{tenant['id']}", json=body)
        assert response.status_code == status, (body, response.text)
    assert await snapshot(admin) == before
    assert other["subdomain"] == "bee"


async def test_unknown_endpoints_and_methods_answer_in_the_envelope(admin):
    missing = await admin.admin.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = await admin.admin.put("/api/v1/tenants")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


async def test_admin_token_guards_tenant_level_calls(aiproxy_gateway_factory):
    token = "s3cret-admin-token-0123456789"
    gw = await aiproxy_gateway_factory(config={"server": {"admin_token": token}})
    unauthorized = await gw.admin.get("/api/v1/tenants")
    assert unauthorized.status_code == 401 and unauthorized.json()["error"]["code"] == "missing_admin_token"
    wrong = await gw.admin.get("/api/v1/tenants", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_admin_token"
    ok = await gw.admin.get("/api/v1/tenants", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    # Tenant keys still manage their own tenant's rules.
    rules = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/rules", headers=gw.tenant_auth)
    assert rules.status_code == 200
