"""The OpenAPI documents (docs/openapi.md): the Admin API's, from its routes and plugins; each
tenant's, from its rules, which never shows a target, a header, a setting or another tenant."""

from __future__ import annotations

import json
import logging

import httpx
from openapi_spec_validator import validate
from starlette.responses import JSONResponse
from starlette.routing import Route

from aiproxy_billing import Billing
from aiproxy_core.openapi.explorer import CONTENT_SECURITY_POLICY
from aiproxy_rate_limiter import RateLimiter

ADMIN_TOKEN = "admin-token-for-openapi-tests-0123456789"


def _operations(document):
    return {(method, path) for path, item in document["paths"].items() for method in item}


async def test_the_admin_document_is_open_valid_and_covers_every_route(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(plugins={"billing": Billing(run_worker=False)}, config={"server": {"admin_token": ADMIN_TOKEN}})
    response = await gw.admin.get("/api/v1/openapi.json")  # no credentials: it describes, it holds no data
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    document = response.json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    routes = {
        (method.lower(), route.path)
        for route in gw.gateway.admin_app.routes
        if isinstance(route, Route) and route.include_in_schema
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert routes == _operations(document)
    tenants = document["paths"]["/api/v1/tenants"]
    assert tenants["post"]["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TenantCreate"}
    assert tenants["post"]["security"] == [{"adminToken": []}, {"apiKeyHeader": []}]
    assert set(tenants["post"]["responses"]) >= {"201", "401", "409", "422", "503"}
    rules = document["paths"]["/api/v1/tenants/{tenant_id}/rules"]["post"]
    assert rules["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/RuleInput"}
    assert {"tenantKey": []} in rules["security"]
    assert document["components"]["responses"]["ValidationFailed"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert set(document["components"]["schemas"]["Error"]["properties"]["error"]["required"]) == {"type", "code", "message", "request_id"}
    # Billing describes its routes through the hook, with the models it validates bodies with.
    plans = document["paths"]["/api/v1/tenants/{tenant_id}/plans"]["post"]
    assert plans["summary"] == "Create a plan" and plans["tags"] == ["billing"]
    assert plans["requestBody"]["content"]["application/json"]["schema"]["$ref"].startswith("#/components/schemas/PlanBody")
    assert document["paths"]["/healthz"]["get"]["security"] == []
    # Built once per process: the same bytes again.
    assert (await gw.admin.get("/api/v1/openapi.json")).content == response.content


async def test_hook_admin_openapi_describes_a_plugins_routes_and_undescribed_ones_still_appear(aiproxy_gateway_factory, plugin_maker, caplog):
    async def widgets(request):
        return JSONResponse({"data": []})

    def admin_routes(services):
        return [Route("/api/v1/tenants/{tenant_id}/widgets", widgets, methods=["GET", "POST"]), Route("/api/v1/gadgets/{gadget_id}", widgets)]

    def admin_openapi():
        return {
            "/api/v1/tenants/{tenant_id}/widgets": {"get": {"summary": "List widgets", "responses": {"200": {"description": "The widgets."}}}},
            "/api/v1/not-a-route-of-mine": {"get": {"summary": "ignored"}},
        }

    def failing():
        raise RuntimeError("cannot describe")

    plugins = {
        "widgets": plugin_maker("widgets", admin_routes=admin_routes, admin_openapi=admin_openapi),
        "broken": plugin_maker("broken", admin_openapi=failing),
    }
    gw = await aiproxy_gateway_factory(plugins=plugins)
    with caplog.at_level(logging.WARNING, logger="aiproxy.openapi"):
        document = (await gw.admin.get("/api/v1/openapi.json")).json()
    validate(document)
    listed = document["paths"]["/api/v1/tenants/{tenant_id}/widgets"]
    assert listed["get"]["summary"] == "List widgets" and listed["get"]["tags"] == ["widgets"]
    assert listed["get"]["parameters"][0]["name"] == "tenant_id" and {"tenantKey": []} in listed["get"]["security"]
    assert "401" in listed["get"]["responses"] and "404" in listed["get"]["responses"]
    assert "does not describe it" in listed["post"]["description"]  # minimal, but there
    gadget = document["paths"]["/api/v1/gadgets/{gadget_id}"]["get"]
    assert gadget["parameters"][0]["name"] == "gadget_id" and gadget["security"] == [{"adminToken": []}, {"apiKeyHeader": []}]
    assert "/api/v1/not-a-route-of-mine" not in document["paths"]
    assert "'broken' could not describe its admin routes" in caplog.text


async def test_the_explorer_page_and_its_assets_come_from_the_gateway(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory()
    page = await gw.admin.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY and "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert 'data-spec-url="/api/v1/openapi.json"' in page.text and "http" not in page.text.replace("http-equiv", "")
    for name, kind in (("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css"), ("explorer.js", "text/javascript")):
        asset = await gw.admin.get(f"/docs/assets/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind), name
    explorer = (await gw.admin.get("/docs/assets/explorer.js")).text
    assert "validatorUrl: null" in explorer  # no badge request to validator.swagger.io
    for hidden in ("index.html", "swagger-initializer.js", "swagger-ui-bundle.js.map", "..%2F__init__.py"):
        refused = await gw.admin.get(f"/docs/assets/{hidden}")
        assert refused.status_code == 404 and refused.json()["error"]["request_id"], hidden
    tenant_page = await gw.proxy_client().get("/-/docs")
    assert tenant_page.status_code == 200 and 'data-spec-url="/-/openapi.json"' in tenant_page.text
    assert tenant_page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert (await gw.proxy_client().get("/-/docs/assets/swagger-ui.css")).status_code == 200
    for client, path in ((gw.admin, "/api/v1/openapi.json"), (gw.proxy_client(), "/-/openapi.json"), (gw.proxy_client(), "/-/docs")):
        refused = await client.post(path, json={})
        assert refused.status_code == 405 and refused.json()["error"]["code"] == "method_not_allowed", path
    stranger = httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.gateway.proxy_app), base_url="http://nobody.gateway.test")
    async with stranger:
        for path in ("/-/docs", "/-/openapi.json"):
            missing = await stranger.get(path)
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "tenant_not_found"


async def test_a_tenant_document_lists_each_rules_operations(aiproxy_gateway_factory, aiproxy_mock_upstream):
    gw = await aiproxy_gateway_factory()
    rules = f"/api/v1/tenants/{gw.tenant['id']}/rules"
    for body in (
        {"path": "/claude", "target": aiproxy_mock_upstream, "client_format": "anthropic"},
        {"path": "/posts-only", "target": aiproxy_mock_upstream, "methods": ["POST"]},
        {"path": "/v1/embeddings", "target": aiproxy_mock_upstream, "methods": ["GET"]},  # shadows nothing it does not serve
    ):
        made = await gw.admin.post(rules, headers=gw.tenant_auth, json=body)
        assert made.status_code == 201, made.text
    response = await gw.proxy_client().get("/-/openapi.json")  # no key
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert _operations(document) == {
        ("post", "/v1/chat/completions"), ("post", "/v1/embeddings"), ("get", "/v1/models"),
        ("post", "/claude/v1/messages"),
        ("post", "/posts-only/chat/completions"), ("post", "/posts-only/embeddings"),
    }  # fmt: skip
    chat = document["paths"]["/v1/chat/completions"]["post"]
    assert chat["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    assert set(chat["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    assert chat["responses"]["401"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    messages = document["paths"]["/claude/v1/messages"]["post"]
    assert messages["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AnthropicMessageRequest"}
    assert document["security"] == [{"bearerKey": []}, {"apiKeyHeader": []}]
    assert document["components"]["securitySchemes"]["apiKeyHeader"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The same key, in X-API-Key (as Anthropic's SDK sends it)."
    }  # fmt: skip
    assert {"path": "/posts-only", "methods": ["POST"], "client_format": "openai"} in document["x-aiproxy-rules"]
    assert document["servers"] == [{"url": "/", "description": "This gateway, for this tenant."}]


async def test_hook_tenant_openapi_adds_errors_headers_and_extensions(aiproxy_gateway_factory, plugin_maker, caplog):
    async def tenant_openapi(tenant, rule, settings):
        return {
            "responses": {"451": {"description": f"Refused for {tenant.name}."}, "200": {"description": "not an error: ignored"}},
            "headers": {"X-Widget-Count": {"description": "Widgets left.", "schema": {"type": "integer"}}, "bad name": {}},
            "extensions": {"x-widgets": {"rule_path": rule.path}, "paths": "not an extension: ignored"},
        }

    def failing():
        raise RuntimeError("no description today")

    plugins = {
        "widgets": plugin_maker("widgets", tenant_openapi=tenant_openapi, pre_request=lambda ctx: None),
        "broken": plugin_maker("broken", tenant_openapi=failing, pre_request=lambda ctx: None),
    }
    gw = await aiproxy_gateway_factory(plugins=plugins, chain=[{"name": "widgets"}, {"name": "broken"}])
    with caplog.at_level(logging.WARNING, logger="aiproxy.openapi"):
        document = (await gw.proxy_client().get("/-/openapi.json")).json()
    validate(document)
    chat = document["paths"]["/v1/chat/completions"]["post"]
    assert chat["responses"]["451"]["description"] == f"Refused for {gw.tenant['name']}."
    assert chat["responses"]["200"]["description"] == "The upstream's answer."
    assert "X-Widget-Count" in chat["responses"]["200"]["headers"] and "X-Widget-Count" in chat["responses"]["401"]["headers"]
    assert "bad name" not in chat["responses"]["200"]["headers"]
    assert document["x-widgets"] == {"rule_path": "/v1"} and isinstance(document["paths"], dict)
    assert "'broken' could not describe rule" in caplog.text


async def test_a_tenant_document_never_shows_targets_headers_settings_or_other_tenants(aiproxy_gateway_factory, aiproxy_mock_upstream):
    chain = [{"name": "rate_limiter", "settings": {"limit": 4242, "window": "7m"}}, {"name": "billing"}]
    plugins = {"rate_limiter": RateLimiter(), "billing": Billing(run_worker=False)}
    rule = {
        "target": None,
        "targets": [{"url": aiproxy_mock_upstream + "/hidden-upstream-path", "name": "secret-target-name",
                     "upstream_headers": {"Authorization": "Bearer sk-upstream-SECRET-1"}}],
        "upstream_headers": {"X-Origin-Token": "origin-SECRET-2"},
    }  # fmt: skip
    gw = await aiproxy_gateway_factory(plugins=plugins, chain=chain, rule=rule)
    plan = await gw.admin.post(
        f"/api/v1/tenants/{gw.tenant['id']}/plans", headers=gw.tenant_auth, json={"name": "Starter", "type": "pay_per_call", "price_per_request": "0.02", "public": True}
    )
    assert plan.status_code == 201, plan.text
    # A plan negotiated with one customer (not public) is nobody else's business.
    private = {"name": "Negotiated", "type": "pay_per_call", "price_per_request": "0.001"}
    assert (await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/plans", headers=gw.tenant_auth, json=private)).status_code == 201
    # Another tenant on the same gateway, with a rule and a plan of its own.
    made = await gw.admin.post("/api/v1/tenants", json={"name": "Other Co", "subdomain": "othertenant"})
    other = made.json()
    other_auth = {"Authorization": f"Bearer {other['api_key']}"}
    other_rule = {"path": "/other-tenants-path", "target": aiproxy_mock_upstream}
    assert (await gw.admin.post(f"/api/v1/tenants/{other['id']}/rules", headers=other_auth, json=other_rule)).status_code == 201
    other_plan = {"name": "Other tenant's plan", "type": "free", "quota": 5}
    assert (await gw.admin.post(f"/api/v1/tenants/{other['id']}/plans", headers=other_auth, json=other_plan)).status_code == 201
    # A Host naming the tenant, and headers a client could use to steer what the document says.
    client = gw.proxy_client(headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"})
    response = await client.get("/-/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    text = response.text
    for secret in (
        aiproxy_mock_upstream, "127.0.0.1", "hidden-upstream-path", "secret-target-name", "SECRET", "X-Origin-Token", "4242", "7m",
        gw.rule["id"], "evil.example", "/other-tenants-path", other["id"], "Other", gw.api_key, "Negotiated",
    ):  # fmt: skip
        assert secret not in text, secret
    # What a consumer needs: the limiter's headers and 429, billing's 402, the tenant's plans and prices.
    chat = document["paths"]["/v1/chat/completions"]["post"]
    assert {"RateLimit", "X-RateLimit-Remaining"} <= set(chat["responses"]["200"]["headers"])
    assert "Retry-After" in chat["responses"]["429"]["headers"] and "quota" in chat["responses"]["429"]["description"]
    assert "insufficient_credits" in chat["responses"]["402"]["description"]
    [shown] = document["x-aiproxy-plans"]
    assert (shown["name"], shown["type"], shown["price_per_request"], shown["id"]) == ("Starter", "pay_per_call", "0.02", plan.json()["id"])
    assert "tenant_id" not in shown and "created_at" not in shown
    assert json.loads(text)["servers"] == [{"url": "/", "description": "This gateway, for this tenant."}]
    # The other tenant's document is its own: its rule, no billing in its chains, so no plans.
    stranger = httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.gateway.proxy_app), base_url="http://othertenant.gateway.test")
    async with stranger:
        theirs = (await stranger.get("/-/openapi.json")).json()
    assert set(theirs["paths"]) == {"/other-tenants-path/chat/completions", "/other-tenants-path/embeddings", "/other-tenants-path/models"}
    assert "x-aiproxy-plans" not in theirs and "Starter" not in json.dumps(theirs)


async def test_a_rules_change_shows_at_once_and_the_index_lists_the_pages(aiproxy_gateway_factory, aiproxy_mock_upstream):
    gw = await aiproxy_gateway_factory()
    anonymous = gw.proxy_client()
    first = await anonymous.get("/-/openapi.json")
    assert (await anonymous.get("/-/openapi.json")).content == first.content  # kept, not rebuilt
    rule = {"path": "/claude", "target": aiproxy_mock_upstream, "client_format": "anthropic"}
    made = await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/rules", headers=gw.tenant_auth, json=rule)
    assert made.status_code == 201, made.text
    assert "/claude/v1/messages" in (await anonymous.get("/-/openapi.json")).json()["paths"]
    pages = (await anonymous.get("/-/")).json()["pages"]
    assert {"/-/openapi.json", "/-/docs"} <= set(pages) and not any("assets" in page for page in pages)
