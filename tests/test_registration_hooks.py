"""startup, shutdown and admin_routes: a plugin's life in a gateway process."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.routing import Route

import pytest

from aiproxy_core import BadRequest, PluginLoadError


async def test_hook_startup_and_hook_shutdown_get_the_services(aiproxy_gateway_factory, plugin_maker, aiproxy_backend):
    events = []

    async def startup(services):
        events.append(("startup", services.embedded, services.redis is not None))

    def shutdown(services):
        events.append(("shutdown", services.store is not None))

    gw = await aiproxy_gateway_factory(plugins={"life": plugin_maker("life", startup=startup, shutdown=shutdown)}, redis=aiproxy_backend)
    on_redis = aiproxy_backend is not None
    assert events == [("startup", not on_redis, on_redis)]
    await gw.gateway.stop()
    assert events[-1] == ("shutdown", True)


async def test_a_failing_startup_stops_the_gateway(aiproxy_gateway_factory, plugin_maker):
    def startup(services):
        raise RuntimeError("model file missing")

    with pytest.raises(PluginLoadError) as failed:
        await aiproxy_gateway_factory(plugins={"bad": plugin_maker("bad", startup=startup)})
    assert failed.value.name == "bad" and "model file missing" in failed.value.reason


async def test_hook_admin_routes_adds_endpoints_with_the_error_envelope(aiproxy_gateway_factory, plugin_maker):
    async def plans(request):
        if request.query_params.get("fail"):
            raise BadRequest("say which plan", code="plan_missing")
        return JSONResponse({"tenant": request.path_params["tenant_id"], "plans": []})

    def admin_routes(services):
        return [Route("/api/v1/tenants/{tenant_id}/plans", plans)]

    gw = await aiproxy_gateway_factory(plugins={"billing": plugin_maker("billing", admin_routes=admin_routes)})
    ok = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/plans")
    assert ok.json() == {"tenant": gw.tenant["id"], "plans": []}
    failed = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/plans?fail=1")
    assert failed.status_code == 400 and failed.json()["error"]["code"] == "plan_missing"
