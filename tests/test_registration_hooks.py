"""startup, shutdown and admin_routes: a plugin's life in a gateway process."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse
from starlette.routing import Route

import pytest

from aiproxy_core import BadRequest, ConfigError, PluginLoadError
from aiproxy_sdk import run_aiproxy


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


class _ModelOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_path: str = "builtin"
    threads: int = Field(default=1, ge=1)


async def test_hook_config_model_validates_the_plugins_section_and_reaches_startup(aiproxy_gateway_factory, plugin_maker):
    seen = []

    def startup(services, config):
        seen.append(config)

    def quiet_startup(config):
        seen.append(("quiet", config))

    plugins = {
        "embedder": plugin_maker("embedder", config_model=lambda: _ModelOptions, startup=startup),
        "quiet": plugin_maker("quiet", startup=quiet_startup),
    }
    await aiproxy_gateway_factory(plugins=plugins, config={"plugins": {"embedder": {"model_path": "/models/minilm", "threads": 2}}})
    assert _ModelOptions(model_path="/models/minilm", threads=2) in seen
    assert ("quiet", None) in seen  # no config_model: None

    seen.clear()
    await aiproxy_gateway_factory(plugins=plugins)
    assert _ModelOptions() in seen  # no section: the model's defaults


async def test_a_bad_plugins_section_stops_the_gateway_naming_every_key_to_fix(aiproxy_gateway_factory, plugin_maker):
    started = []
    plugins = {
        "embedder": plugin_maker("embedder", config_model=lambda: _ModelOptions, startup=lambda: started.append(1)),
        "quiet": plugin_maker("quiet", startup=lambda: started.append(1)),
    }
    bad = {"embedder": {"threads": 0, "model_pth": "x"}, "quiet": {"level": 1}, "embeder": {}}
    with pytest.raises(ConfigError) as failed:
        await aiproxy_gateway_factory(plugins=plugins, config={"plugins": bad})
    message = str(failed.value)
    assert "plugins.embedder.threads: Input should be greater than or equal to 1" in message
    assert "plugins.embedder.model_pth: unknown option" in message
    assert "plugins.quiet: this plugin takes no options here" in message
    assert "plugins.embeder: no installed plugin has this name (installed: embedder, quiet)" in message
    assert started == []  # nothing started


def test_aiproxy_serve_refuses_an_unknown_plugin_section_before_listening(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("plugins:\n  no-such-plugin:\n    enabled: true\n")
    done = run_aiproxy("serve", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "plugins.no-such-plugin: no installed plugin has this name" in done.stderr
    assert "Traceback" not in done.stderr


async def test_services_chain_entries_finds_the_saved_entries_naming_a_plugin(aiproxy_gateway_factory, plugin_maker, tmp_path):
    shared = {"storage": {"path": str(tmp_path / "shared.db")}}
    first = await aiproxy_gateway_factory(
        plugins={"embedder": plugin_maker("embedder", pre_request=lambda ctx: None), "quiet": plugin_maker("quiet", post_request=lambda ctx: None)},
        chain=[{"name": "embedder", "settings": {"model": "a"}}, {"name": "quiet"}, {"name": "embedder", "enabled": False}],
        config=shared,
    )
    await first.gateway.stop()
    seen = []

    async def startup(services):
        seen.extend(await services.chain_entries("embedder"))

    plugins = {"embedder": plugin_maker("embedder", startup=startup), "quiet": plugin_maker("quiet", post_request=lambda ctx: None)}
    await aiproxy_gateway_factory(plugins=plugins, config=shared)
    assert [(entry.name, entry.settings) for entry in seen] == [("embedder", {"model": "a"})]  # the disabled one is left out


async def test_hook_tenant_deleted_tells_plugins_and_a_failing_one_does_not_undo_the_delete(aiproxy_gateway_factory, plugin_maker):
    told = []

    async def tenant_deleted(tenant_id, services):
        told.append((tenant_id, services.store is not None))

    def broken(tenant_id):
        raise RuntimeError("disk full")

    plugins = {"keeper": plugin_maker("keeper", tenant_deleted=tenant_deleted), "broken": plugin_maker("broken", tenant_deleted=broken)}
    gw = await aiproxy_gateway_factory(plugins=plugins)
    deleted = await gw.admin.delete(f"/api/v1/tenants/{gw.tenant['id']}")
    assert deleted.status_code == 204
    assert told == [(gw.tenant["id"], True)]
    assert await gw.gateway.store.get_tenant(gw.tenant["id"]) is None
    assert (await gw.admin.delete(f"/api/v1/tenants/{gw.tenant['id']}")).status_code == 404
    assert len(told) == 1  # an unknown tenant tells nobody
