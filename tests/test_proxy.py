"""The Proxy API: tenant and rule lookup, forwarding, headers, and every error in one envelope."""

from __future__ import annotations

import socket

import pytest

from aiproxy_sdk import ServerThread


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"type", "code", "message", "request_id"}
    assert error["code"] == code
    assert error["request_id"] == response.headers["x-request-id"]
    return error


async def test_plain_chat_is_forwarded(aiproxy_gateway_factory, aiproxy_backend):
    gw = await aiproxy_gateway_factory(redis=aiproxy_backend)
    response = await gw.chat("Hello!")
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "You said: Hello!"
    assert response.headers["x-request-id"]


async def test_headers_crossing_the_proxy(aiproxy_gateway):
    response = await aiproxy_gateway.proxy.post(
        "/v1/echo?x=1",
        content=b'{"a": 1}',
        headers={
            "Content-Type": "application/json",
            "X-Request-ID": "client-chosen-id",
            "X-Custom": "kept",
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "dropped because Connection names it",
            "Keep-Alive": "timeout=5",
            "X-Forwarded-For": "198.51.100.1",
        },
    )
    assert response.status_code == 200
    echoed = response.json()
    seen = echoed["headers"]
    assert echoed["path"] == "/v1/echo" and echoed["query"] == "x=1" and echoed["body"] == '{"a": 1}'
    assert seen["x-custom"] == "kept"
    assert seen["x-request-id"] == "client-chosen-id"
    assert response.headers["x-request-id"] == "client-chosen-id"
    # The client is no trusted proxy: its X-Forwarded-For is replaced by what the gateway saw.
    assert seen["x-forwarded-for"] == "203.0.113.7"
    assert seen["x-forwarded-host"] == aiproxy_gateway.host
    assert "x-hop" not in seen and "keep-alive" not in seen
    assert "authorization" not in seen, "the consumer's gateway key must never reach the upstream"


def test_what_an_upstream_answers_with_passes_down_without_hop_by_hop_or_the_gateways_own_headers() -> None:
    from aiproxy_core.proxy.headers import downstream_headers

    raw = [
        (b"Content-Type", b"application/json"), (b"Connection", b"keep-alive, X-Hop"), (b"X-Hop", b"1"), (b"Keep-Alive", b"timeout=5"),
        (b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"10"), (b"X-AIProxy-Cost", b"99"), (b"Connection", b"X-Other"),
        (b"X-Other", b"2"), (b"X-Upstream", b"kept"),
    ]
    # Names lowercased; Connection and what it names, Keep-Alive, the framing, and a cost the
    # upstream claims for this gateway are gone; the rest stays, in order.
    assert downstream_headers(raw).raw == [(b"content-type", b"application/json"), (b"x-upstream", b"kept")]


async def test_a_request_id_is_made_when_the_client_sends_none(aiproxy_gateway):
    response = await aiproxy_gateway.proxy.post("/v1/echo", json={})
    generated = response.headers["x-request-id"]
    assert len(generated) >= 16 and response.json()["headers"]["x-request-id"] == generated


@pytest.mark.parametrize(
    ("rule_path", "target_path", "strip", "request_path", "upstream_path"),
    [
        ("/v1", "", False, "/v1/echo", "/v1/echo"),
        ("/v1", "", True, "/v1/echo", "/echo"),
        ("/v1", "/api", True, "/v1/echo/x", "/api/echo/x"),
        ("/v1", "/api/", True, "/v1/echo", "/api/echo"),
        ("/v1", "/api", False, "/v1/echo", "/api/v1/echo"),
        ("/v1", "/base/path", True, "/v1", "/base/path"),
        # A rule on "/" matches every path; stripping it must cut nothing but the leading "/".
        ("/", "", True, "/v1/echo", "/v1/echo"),
        ("/", "", False, "/v1/echo", "/v1/echo"),
        ("/", "/api", True, "/v1/echo", "/api/v1/echo"),
        ("/", "/api/", True, "/v1/echo", "/api/v1/echo"),
        ("/", "/api", False, "/v1/echo", "/api/v1/echo"),
        ("/", "", True, "/", "/"),
        ("/", "/api", True, "/", "/api"),
    ],
)
async def test_strip_path_has_kongs_meaning(aiproxy_gateway_factory, aiproxy_mock_upstream, rule_path, target_path, strip, request_path, upstream_path):
    gw = await aiproxy_gateway_factory(rule={"path": rule_path, "target": aiproxy_mock_upstream + target_path, "strip_path": strip})
    response = await gw.proxy.post(request_path, json={})
    assert response.json()["path"] == upstream_path


async def test_longest_prefix_wins_and_methods_are_enforced(aiproxy_gateway, aiproxy_mock_upstream):
    gw = aiproxy_gateway
    made = await gw.admin.post(
        f"/api/v1/tenants/{gw.tenant['id']}/rules",
        headers=gw.tenant_auth,
        json={"path": "/v1/special", "target": aiproxy_mock_upstream + "/special-upstream", "methods": ["GET"], "strip_path": True},
    )
    assert made.status_code == 201, made.text
    assert (await gw.proxy.get("/v1/special/x")).json()["path"] == "/special-upstream/x"
    # POST is not allowed on the longer rule, but the shorter /v1 rule (every method) takes it.
    assert (await gw.proxy.post("/v1/special/x", json={})).json()["path"] == "/v1/special/x"
    # A prefix matches whole segments only.
    assert (await gw.proxy.get("/v1/specialist")).json()["path"] == "/v1/specialist"


async def test_wrong_method_is_405_with_allow(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(rule={"methods": ["POST"]})
    error = assert_error(await gw.proxy.get("/v1/chat/completions"), 405, "method_not_allowed")
    assert "POST" in error["message"]


async def test_unknown_tenant_and_unknown_route_are_404(aiproxy_gateway):
    gw = aiproxy_gateway
    stranger = gw.proxy_client(gw.api_key)
    stranger.base_url = "http://nobody.gateway.test"
    assert_error(await stranger.post("/v1/chat/completions", json={}), 404, "tenant_not_found")
    stranger.base_url = "http://not-our-domain.example"
    assert_error(await stranger.post("/v1/chat/completions", json={}), 404, "tenant_not_found")
    assert_error(await gw.proxy.post("/v2/other", json={}), 404, "route_not_found")


async def test_missing_and_bad_keys_are_401(aiproxy_gateway_factory, aiproxy_backend):
    gw = await aiproxy_gateway_factory(redis=aiproxy_backend)
    assert_error(await gw.proxy_client(None).post("/v1/chat/completions", json={}), 401, "missing_api_key")
    assert_error(await gw.proxy_client("aip_not-a-real-key").post("/v1/chat/completions", json={}), 401, "invalid_api_key")
    assert_error(await gw.proxy_client("sk-something-else").post("/v1/chat/completions", json={}), 401, "invalid_api_key")
    # A real key of another tenant in the same store is refused here: keys never cross tenants.
    other = await gw.admin.post("/api/v1/tenants", json={"name": "Other", "subdomain": "o" + gw.tenant["subdomain"]})
    assert_error(await gw.proxy_client(other.json()["api_key"]).post("/v1/chat/completions", json={}), 401, "invalid_api_key")
    x_api_key = gw.proxy_client(None, headers={"X-API-Key": gw.api_key})
    assert (await x_api_key.post("/v1/echo", json={})).status_code == 200


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_unreachable_upstream_is_502(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(upstream_url=f"http://127.0.0.1:{_closed_port()}")
    error = assert_error(await gw.chat("hi"), 502, "upstream_unreachable")
    assert error["type"] == "upstream_error"


async def test_slow_upstream_is_504(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(rule={"timeout": 0.2})
    assert_error(await gw.chat("hi", headers={"X-Mock-Latency-Ms": "2000"}), 504, "upstream_timeout")


async def test_upstream_errors_pass_through_unchanged(aiproxy_gateway):
    response = await aiproxy_gateway.chat("hi", headers={"X-Mock-Status": "429"})
    assert response.status_code == 429 and response.json()["error"]["code"] == "mock_error"


async def test_oversize_body_is_413(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(config={"server": {"max_body_bytes": 1000}})
    assert_error(await gw.proxy.post("/v1/echo", content=b"x" * 1001), 413, "body_too_large")
    assert (await gw.proxy.post("/v1/echo", content=b"x" * 1000)).status_code == 200


async def test_a_rule_naming_an_uninstalled_plugin_fails_clearly(aiproxy_gateway_factory, plugin_maker, tmp_path):
    """A chain saved while a plugin was installed, served by a gateway without it: 500 naming it."""
    gw = await aiproxy_gateway_factory(plugins={"gone": plugin_maker("gone", pre_request=lambda ctx: None)}, chain=[{"name": "gone"}])
    gw.gateway.registry.manager.unregister(name="gone")
    gw.gateway.registry.versions.pop("gone")
    gw.gateway.tenants.on_change(type("E", (), {"kind": "reset"})())
    error = assert_error(await gw.chat("hi"), 500, "plugin_unavailable")
    assert "'gone'" in error["message"]


async def test_large_upstream_bodies_stream_through(aiproxy_gateway_factory):
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def big(request):
        async def body():
            for _ in range(64):
                yield b"x" * 65536

        return StreamingResponse(body(), media_type="application/octet-stream")

    with ServerThread(Starlette(routes=[Route("/v1/big", big)])) as url:
        gw = await aiproxy_gateway_factory(upstream_url=url)
        response = await gw.proxy.get("/v1/big")
        assert response.status_code == 200 and len(response.content) == 64 * 65536
