"""When Redis goes away (issue #9, item 9): /healthz says so, the Admin API answers 503
``store_unavailable`` and plugins that cannot reach it 503 ``plugin_unavailable``, all in the
JSON envelope; when it is back, everything answers again.

Each test runs a redis-server of its own and kills it (the shared one is never touched).
"""

from __future__ import annotations

import uuid
from typing import Any

from aiproxy_core import hookimpl
from aiproxy_rate_limiter import RateLimiter


def redis_section(private_redis: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": private_redis.port, "prefix": "outage-" + uuid.uuid4().hex[:8]}


def assert_unavailable(response: Any, code: str) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["type"] == "api_error"
    assert error["request_id"] == response.headers["x-request-id"]
    assert int(response.headers["retry-after"]) >= 1
    assert "Traceback" not in response.text and "Internal Server Error" not in response.text
    return error


async def test_healthz_says_what_is_down_and_recovers(aiproxy_gateway_factory, aiproxy_private_redis):
    gw = await aiproxy_gateway_factory(redis=redis_section(aiproxy_private_redis))
    up = await gw.admin.get("/healthz")
    assert up.status_code == 200 and up.json()["status"] == "ok", up.text

    aiproxy_private_redis.kill()
    down = await gw.admin.get("/healthz")
    assert down.status_code == 503, down.text
    health = down.json()
    assert health["status"] == "unavailable"
    assert f"127.0.0.1:{aiproxy_private_redis.port}" in health["store"]
    assert len(health["problems"]) == 1 and "store" in health["problems"][0]
    assert down.headers["x-request-id"]

    aiproxy_private_redis.start()
    back = await gw.admin.get("/healthz")
    assert back.status_code == 200 and back.json()["status"] == "ok", back.text
    assert "problems" not in back.json()


async def test_healthz_on_sqlite_probes_the_file(aiproxy_gateway):
    health = await aiproxy_gateway.admin.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["store"].startswith("SQLite file ")


async def test_admin_calls_answer_store_unavailable_and_change_nothing(aiproxy_gateway_factory, aiproxy_private_redis):
    gw = await aiproxy_gateway_factory(redis=redis_section(aiproxy_private_redis))
    before = (await gw.admin.get("/api/v1/tenants")).json()["data"]
    aiproxy_private_redis.save()  # the restart finds what was there, as a persistent Redis would
    aiproxy_private_redis.kill()

    assert_unavailable(await gw.admin.get("/api/v1/tenants"), "store_unavailable")
    assert_unavailable(await gw.admin.post("/api/v1/tenants", json={"name": "Down", "subdomain": "down"}), "store_unavailable")
    assert_unavailable(await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/rules", headers=gw.tenant_auth), "store_unavailable")

    aiproxy_private_redis.start()
    assert (await gw.admin.get("/api/v1/tenants")).json()["data"] == before


class RedisCounter:
    """A third-party plugin that counts in Redis with the client the core gives it, handling no errors."""

    def __init__(self) -> None:
        self.services: Any = None

    @hookimpl
    def startup(self, services: Any, config: Any) -> None:
        self.services = services

    @hookimpl
    async def pre_request(self, ctx: Any, settings: Any) -> None:
        await self.services.redis.incr(self.services.redis_prefix + ":counted")


async def test_a_plugin_that_cannot_reach_redis_is_unavailable_not_an_error(aiproxy_gateway_factory, aiproxy_private_redis):
    gw = await aiproxy_gateway_factory(
        plugins={"counter": RedisCounter()},
        chain=[{"name": "counter"}],
        redis=redis_section(aiproxy_private_redis),
    )
    made = await gw.admin.post(
        f"/api/v1/tenants/{gw.tenant['id']}/rules",
        headers=gw.tenant_auth,
        json={"path": "/v1/embeddings", "target": gw.rule["target"], "plugin_chain": [{"name": "counter", "on_error": "open"}]},
    )
    assert made.status_code == 201, made.text
    assert (await gw.chat()).status_code == 200

    aiproxy_private_redis.kill()
    error = assert_unavailable(await gw.chat(), "plugin_unavailable")
    assert "'counter'" in error["message"] and error["details"] == [{"plugin": "counter", "hook": "pre_request"}]
    assert "127.0.0.1" not in error["message"] and "Error 111" not in error["message"]
    # on_error: open still skips the plugin.
    skipped = await gw.proxy.post("/v1/embeddings", json={"model": "mock-model", "input": "hi"})
    assert skipped.status_code == 200, skipped.text

    aiproxy_private_redis.start()
    assert (await gw.chat()).status_code == 200


async def test_the_rate_limiter_closed_is_plugin_unavailable_while_redis_is_down(aiproxy_gateway_factory, aiproxy_private_redis):
    settings = {"limit": 100, "window": "1m", "redis_timeout": 0.5, "on_error": "closed"}
    gw = await aiproxy_gateway_factory(
        plugins={"rate_limiter": RateLimiter()},
        chain=[{"name": "rate_limiter", "settings": settings}],
        redis=redis_section(aiproxy_private_redis),
    )
    assert (await gw.chat()).headers["x-ratelimit-remaining"] == "99"
    aiproxy_private_redis.kill()
    error = assert_unavailable(await gw.chat(), "plugin_unavailable")
    assert "rate" in error["message"]
