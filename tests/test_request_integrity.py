"""A request stays inside the rule it matched, says honestly how it ended, and is counted by the
gateway's own id (issue #9: paths, forwarding headers, loops, cut-off streams, disconnects, ids)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aiproxy_core import GatewayConfig
from aiproxy_sdk import LiveGateway, ServerThread

BASE_DOMAIN = "gateway.test"
LOOPBACK = {"allowed_networks": ["127.0.0.1/32"]}


class Recorder:
    """An upstream that answers every path with what it received, and keeps a list of it."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.disconnected = threading.Event()

        async def anything(request: Request) -> Response:
            raw = request.scope.get("raw_path", b"").decode("latin-1")
            entry = {"path": raw, "query": request.url.query, "headers": dict(request.headers)}
            self.seen.append(entry)
            if request.url.path.endswith("/slow"):
                # Answers after 10 s, unless the gateway hangs up first (what the test wants).
                for _ in range(200):
                    if await request.is_disconnected():
                        self.disconnected.set()
                        return Response(status_code=499)
                    await asyncio.sleep(0.05)
            return JSONResponse(entry)

        self.app = Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST", "PUT", "DELETE"])])


@pytest.fixture
def recorder():
    rec = Recorder()
    with ServerThread(rec.app) as url:
        rec.url = url
        yield rec


def raw_request(url: str, request: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (no client-side path clean-up) and read one response."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            part = sock.recv(65536)
            if not part:
                break
            data += part
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            part = sock.recv(65536)
            if not part:
                break
            body += part
    return status, headers, body


def get(url: str, path: str, host: str, key: str, extra: str = "") -> tuple[int, dict[str, str], bytes]:
    return raw_request(url, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n{extra}Connection: close\r\n\r\n".encode("latin-1"))


def admin_client(live: LiveGateway) -> httpx.Client:
    return httpx.Client(base_url=live.admin_url, timeout=10)


def make_tenant(live: LiveGateway, subdomain: str, rules: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with admin_client(live) as admin:
        tenant = admin.post("/api/v1/tenants", json={"name": subdomain, "subdomain": subdomain})
        assert tenant.status_code == 201, tenant.text
        t = tenant.json()
        made = []
        for rule in rules:
            response = admin.post(f"/api/v1/tenants/{t['id']}/rules", headers={"Authorization": f"Bearer {t['api_key']}"}, json=rule)
            assert response.status_code == 201, response.text
            made.append(response.json())
    return t, made


def scoped_consumer_key(live: LiveGateway, tenant: dict[str, Any], rule_ids: list[str]) -> str:
    auth = {"Authorization": f"Bearer {tenant['api_key']}"}
    with admin_client(live) as admin:
        consumer = admin.post(f"/api/v1/tenants/{tenant['id']}/consumers", headers=auth, json={"name": "c"}).json()
        key = admin.post(f"/api/v1/tenants/{tenant['id']}/consumers/{consumer['id']}/keys", headers=auth, json={"scopes": rule_ids})
        assert key.status_code == 201, key.text
        return key.json()["key"]


def live_gateway(tmp_path, **sections: dict[str, Any]) -> LiveGateway:
    config: dict[str, Any] = {"server": {"base_domain": BASE_DOMAIN}, "storage": {"path": str(tmp_path / "g.db")}, "upstream": LOOPBACK}
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    return LiveGateway(GatewayConfig.model_validate(config))


# -- paths -------------------------------------------------------------------------------------


@pytest.fixture
def two_rules(tmp_path, recorder):
    with live_gateway(tmp_path) as live:
        tenant, (public, private) = make_tenant(
            live,
            "paths",
            [
                {"path": "/v1/public", "target": recorder.url, "upstream_headers": {"Authorization": "Bearer sk-origin-secret-1234"}},
                {"path": "/v1/private", "target": recorder.url},
            ],
        )
        key = scoped_consumer_key(live, tenant, [public["id"]])
        yield live, f"paths.{BASE_DOMAIN}", key, recorder


@pytest.mark.parametrize(
    "path",
    [
        "/v1/public/../private/x",
        "/v1/public/%2e%2e/private/x",
        "/v1/public/%2E%2E/private/x",
        "/v1/public/./../private/x",
        "/v1/public/x/../../private/x",
    ],
)
def test_dot_segments_cannot_leave_the_matched_rule(two_rules, path):
    live, host, key, recorder = two_rules
    status, _, body = get(live.proxy_url, path, host, key)
    # Normalised, the path is /v1/private/x: the private rule, which this key may not call.
    assert status == 403, body
    assert json.loads(body)["error"]["code"] == "key_scope_denied"
    assert recorder.seen == []


@pytest.mark.parametrize(
    "path",
    ["/v1/public/..%2fprivate/x", "/v1/public/..%2Fprivate", "/v1/public/x%3Fa=b", "/v1/public/x%23frag", "/v1/public/%5c..%5cprivate",
     "/v1/public\\..\\private", "/v1/public/a%00b", "/v1/public/%zz", "/v1/public/%c3%28"],
)
def test_encoded_separators_and_odd_bytes_are_refused(two_rules, path):
    live, host, key, recorder = two_rules
    status, headers, body = get(live.proxy_url, path, host, key)
    assert status == 400, body
    error = json.loads(body)["error"]
    assert error["code"] == "invalid_path" and error["request_id"] == headers["x-request-id"]
    assert recorder.seen == []


@pytest.mark.parametrize(
    ("sent", "received"),
    [
        ("/v1/public/a/./b/../c", "/v1/public/a/c"),
        ("/v1/public/%41bc", "/v1/public/Abc"),
        ("/v1/public/a%20b", "/v1/public/a%20b"),
        ("/v1/public/caf%C3%A9", "/v1/public/caf%C3%A9"),
        ("/v1/public/x/..", "/v1/public/"),
    ],
)
def test_the_upstream_gets_exactly_the_path_that_was_matched(two_rules, sent, received):
    live, host, key, recorder = two_rules
    status, _, body = get(live.proxy_url, sent, host, key)
    assert status == 200, body
    assert [entry["path"] for entry in recorder.seen] == [received]
    assert recorder.seen[0]["headers"]["authorization"] == "Bearer sk-origin-secret-1234"


def test_a_rules_upstream_credential_never_reaches_another_path_of_the_origin(two_rules):
    live, host, key, recorder = two_rules
    for path in ("/v1/public/../../v1/files", "/v1/public/%2e%2e/%2e%2e/v1/files", "/v1/public/../../../../v1/files"):
        status, _, body = get(live.proxy_url, path, host, key)
        assert status == 404, body  # /v1/files: no rule of this tenant
    assert recorder.seen == []


# -- forwarding headers and the client address ---------------------------------------------------


async def test_forwarding_headers_from_an_untrusted_client_are_replaced(aiproxy_gateway_factory, plugin_maker):
    seen: dict[str, Any] = {}
    gw = await aiproxy_gateway_factory(
        plugins={"who": plugin_maker("who", pre_request=lambda ctx: seen.update(ip=ctx.request.client_ip, via_proxy=ctx.request.via_trusted_proxy))},
        chain=[{"name": "who"}],
    )
    response = await gw.proxy.post(
        "/v1/echo",
        json={},
        headers={"X-Forwarded-For": "10.9.9.9", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
                 "Forwarded": "for=10.9.9.9;host=evil.example", "X-Real-IP": "10.9.9.9"},
    )
    assert response.status_code == 200, response.text
    upstream_saw = response.json()["headers"]
    assert seen["ip"] == "203.0.113.7"  # the peer, not what the client claimed
    assert seen["via_proxy"] is False  # headers it sets are the client's own words
    assert upstream_saw["x-forwarded-for"] == "203.0.113.7"
    assert upstream_saw["x-forwarded-host"] == gw.host and upstream_saw["x-forwarded-proto"] == "http"
    assert "forwarded" not in upstream_saw and "x-real-ip" not in upstream_saw


async def test_a_trusted_proxy_decides_the_client_address(aiproxy_gateway_factory, plugin_maker):
    seen: list[str | None] = []
    via_proxy: list[bool] = []

    def who(ctx: Any) -> None:
        seen.append(ctx.request.client_ip)
        via_proxy.append(ctx.request.via_trusted_proxy)

    gw = await aiproxy_gateway_factory(
        plugins={"who": plugin_maker("who", pre_request=who)},
        chain=[{"name": "who"}],
        config={"server": {"trusted_proxies": ["203.0.113.0/24", "10.0.0.0/8"]}},
    )
    # The harness peer 203.0.113.7 is trusted, and so is 10.0.0.5: the client is the first untrusted hop from the right.
    response = await gw.proxy.post(
        "/v1/echo", json={}, headers={"X-Forwarded-For": "1.2.3.4, 198.51.100.9, 10.0.0.5", "X-Forwarded-Proto": "https"}
    )
    assert response.status_code == 200, response.text
    assert seen == ["198.51.100.9"]
    assert via_proxy == [True]  # headers the proxy sets (CF-IPCountry, say) are its word
    upstream_saw = response.json()["headers"]
    assert upstream_saw["x-forwarded-for"] == "1.2.3.4, 198.51.100.9, 10.0.0.5, 203.0.113.7"
    assert upstream_saw["x-forwarded-proto"] == "https"  # the trusted proxy's word is kept
    # Garbage in the list stops the walk: the last trusted hop's view stands.
    await gw.proxy.post("/v1/echo", json={}, headers={"X-Forwarded-For": "198.51.100.9, not-an-ip"})
    assert seen[-1] == "203.0.113.7"


async def test_two_host_headers_are_refused_and_a_trailing_dot_host_finds_its_tenant(aiproxy_gateway):
    gw = aiproxy_gateway
    assert (await gw.proxy.post("/v1/echo", json={}, headers={"Host": gw.host + "."})).status_code == 200
    twice = await gw.proxy.post("/v1/echo", json={}, headers=[("Host", gw.host), ("Host", "other." + BASE_DOMAIN)])
    assert twice.status_code == 400 and twice.json()["error"]["code"] == "duplicate_host"


async def test_a_target_with_a_query_keeps_it(aiproxy_gateway_factory, recorder):
    gw = await aiproxy_gateway_factory(upstream_url=recorder.url + "/deployments/x?api-version=2024-10-21", rule={"strip_path": True})
    response = await gw.proxy.post("/v1/chat/completions?stream=false", json={})
    assert response.status_code == 200, response.text
    assert recorder.seen[0]["path"] == "/deployments/x/chat/completions"
    assert recorder.seen[0]["query"] == "api-version=2024-10-21&stream=false"


# -- loops -------------------------------------------------------------------------------------


async def test_a_request_that_comes_back_is_refused_as_a_loop(aiproxy_gateway_factory, recorder):
    gw = await aiproxy_gateway_factory(upstream_url=recorder.url)
    first = await gw.proxy.post("/v1/x", json={})
    assert first.status_code == 200
    via = recorder.seen[0]["headers"]["via"]
    assert via.startswith("1.1 aiproxy-")
    # What the upstream got, sent back to the gateway (a rule or origin that points back): refused.
    looped = await gw.proxy.post("/v1/x", json={}, headers={"Via": via})
    assert looped.status_code == 508 and looped.json()["error"]["code"] == "loop_detected"
    assert len(recorder.seen) == 1
    # Another proxy's Via is no loop, and is passed on ahead of ours.
    other = await gw.proxy.post("/v1/x", json={}, headers={"Via": "1.1 edge-proxy"})
    assert other.status_code == 200 and recorder.seen[-1]["headers"]["via"] == f"1.1 edge-proxy, {via}"


# -- streams cut off, and clients that leave ----------------------------------------------------


def _cut_stream_app() -> Starlette:
    async def chat(request: Request) -> Response:
        async def events():
            yield b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Half"},"finish_reason":null}]}\n\n'
            await asyncio.sleep(0.05)
            raise RuntimeError("the upstream process died mid-answer")

        async def plain():
            yield b'{"partial": '
            await asyncio.sleep(0.05)
            raise RuntimeError("died")

        body = await request.json()
        if body.get("stream"):
            return StreamingResponse(events(), media_type="text/event-stream")
        return StreamingResponse(plain(), media_type="application/json")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@pytest.fixture
def interrupted_gateway(tmp_path, plugin_maker):
    outcomes: list[Any] = []
    from aiproxy_core import PluginRegistry

    registry = PluginRegistry()
    registry.register(plugin_maker("meter", post_response=lambda ctx: outcomes.append(ctx.annotations.get("interrupted"))), "meter")
    with ServerThread(_cut_stream_app()) as upstream:
        config = {"server": {"base_domain": BASE_DOMAIN}, "storage": {"path": str(tmp_path / "g.db")}, "upstream": LOOPBACK}
        with LiveGateway(GatewayConfig.model_validate(config), registry=registry) as live:
            tenant, _ = make_tenant(live, "cut", [{"path": "/v1", "target": upstream, "plugin_chain": [{"name": "meter"}]}])
            yield live, f"cut.{BASE_DOMAIN}", tenant["api_key"], outcomes


def test_a_cut_off_stream_ends_with_an_error_event_and_the_openai_client_raises(interrupted_gateway):
    live, host, key, outcomes = interrupted_gateway
    client = openai.OpenAI(base_url=live.proxy_url + "/v1", api_key=key, default_headers={"Host": host}, max_retries=0)
    received = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == ["Half"]
    assert "stopped before the answer was complete" in str(raised.value)
    # Read raw: the last event is the error, and no [DONE] follows.
    with httpx.Client(base_url=live.proxy_url, headers={"Host": host, "Authorization": f"Bearer {key}"}) as raw:
        text = raw.post("/v1/chat/completions", json={"model": "m", "stream": True, "messages": []}).text
    last = text.strip().split("\n\n")[-1]
    error = json.loads(last.removeprefix("data: "))["error"]
    assert error["type"] == "upstream_error" and error["code"] == "upstream_stream_interrupted" and error["request_id"]
    assert "[DONE]" not in text and "127.0.0.1" not in text
    _wait_until(lambda: outcomes.count("upstream") == 2)


def test_a_cut_off_plain_body_never_looks_complete(interrupted_gateway):
    live, host, key, outcomes = interrupted_gateway
    with httpx.Client(base_url=live.proxy_url, headers={"Host": host, "Authorization": f"Bearer {key}"}) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/v1/chat/completions", json={"model": "m", "messages": []})
    _wait_until(lambda: outcomes == ["upstream"])


def _short_body_upstream(declared: int, sent: bytes) -> tuple[socket.socket, threading.Thread]:
    """A raw origin that promises ``declared`` bytes and sends fewer, then closes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % declared + sent)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


@pytest.mark.parametrize("declared", [100, 2 * 1024 * 1024])
def test_a_body_shorter_than_its_content_length_is_not_a_clean_answer(tmp_path, declared):
    server, _ = _short_body_upstream(declared, b'{"partial": true')
    try:
        with live_gateway(tmp_path) as live:
            tenant, _ = make_tenant(live, "short", [{"path": "/v1", "target": f"http://127.0.0.1:{server.getsockname()[1]}"}])
            headers = {"Host": f"short.{BASE_DOMAIN}", "Authorization": f"Bearer {tenant['api_key']}"}
            with httpx.Client(base_url=live.proxy_url, headers=headers) as client:
                if declared <= 1024 * 1024:
                    # Small bodies are read whole before anything is sent: a 502, never half a body.
                    response = client.post("/v1/chat/completions", json={})
                    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_unreachable"
                    assert "127.0.0.1" not in response.text and "aiohttp" not in response.text.lower()
                else:
                    with pytest.raises(httpx.RemoteProtocolError):  # streamed: the transfer breaks off
                        client.post("/v1/chat/completions", json={})
    finally:
        server.close()


def test_a_client_that_leaves_cancels_the_upstream_request(tmp_path, recorder, plugin_maker):
    outcomes: list[Any] = []
    from aiproxy_core import PluginRegistry

    registry = PluginRegistry()
    registry.register(plugin_maker("meter", post_response=lambda ctx: outcomes.append((ctx.response.status, ctx.annotations.get("interrupted")))), "meter")
    config = {"server": {"base_domain": BASE_DOMAIN}, "storage": {"path": str(tmp_path / "g.db")}, "upstream": LOOPBACK}
    with LiveGateway(GatewayConfig.model_validate(config), registry=registry) as live:
        tenant, _ = make_tenant(live, "leave", [{"path": "/v1", "target": recorder.url, "plugin_chain": [{"name": "meter"}]}])
        host, port = live.proxy_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(f"GET /v1/slow HTTP/1.1\r\nHost: leave.{BASE_DOMAIN}\r\nAuthorization: Bearer {tenant['api_key']}\r\n\r\n".encode())
            _wait_until(lambda: len(recorder.seen) == 1)
        # The client is gone: the gateway hangs up on the upstream instead of waiting 10 s for it.
        assert recorder.disconnected.wait(timeout=5)
        _wait_until(lambda: outcomes == [(499, "client")])


def _wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


# -- bodies, store outages, unexpected errors ---------------------------------------------------


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"messages": "\\ud800"}', b'{"a": "\\udfff\\ud800"}', b'{"a": "\xed\xa0\x80"}'])
async def test_json_the_gateway_cannot_carry_is_a_400(aiproxy_gateway_factory, plugin_maker, body):
    gw = await aiproxy_gateway_factory(plugins={"reader": plugin_maker("reader", pre_request=lambda ctx: ctx.request.json and None)}, chain=[{"name": "reader"}])
    response = await gw.proxy.post("/v1/echo", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_json"
    # A real emoji written as a surrogate pair is text, and passes.
    ok = await gw.proxy.post("/v1/echo", content=b'{"a": "\\ud83d\\ude00"}', headers={"Content-Type": "application/json"})
    assert ok.status_code == 200


async def test_a_chunked_body_over_the_limit_is_refused_whatever_its_chunks(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(config={"server": {"max_body_bytes": 4096}})

    async def one_big_chunk():
        yield b"x" * 65536

    async def many_small():
        for _ in range(100):
            yield b"x" * 100

    for body in (one_big_chunk(), many_small()):
        response = await gw.proxy.post("/v1/echo", content=body)
        assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"


async def test_a_store_the_proxy_cannot_reach_is_a_503_in_the_envelope(aiproxy_gateway_factory, aiproxy_private_redis):
    gw = await aiproxy_gateway_factory(redis={"host": "127.0.0.1", "port": aiproxy_private_redis.port, "prefix": "outage"})
    assert (await gw.chat("hi")).status_code == 200
    aiproxy_private_redis.stop()
    response = await gw.proxy_client("aip_a-key-not-in-any-cache").post("/v1/chat/completions", json={})
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "store_unavailable" and error["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text and response.headers["retry-after"]


async def test_an_unexpected_error_is_a_500_envelope_with_the_details_only_in_the_log(tmp_path, caplog):
    from aiproxy_core import Gateway
    from aiproxy_core.store.sqlite_store import SQLiteStore

    class BrokenKeys(SQLiteStore):
        async def find_key(self, key_hash):  # a bug in a store: not an outage
            raise KeyError("internal detail: key_hash column")

    config = GatewayConfig.model_validate({"server": {"base_domain": BASE_DOMAIN}, "storage": {"path": str(tmp_path / "b.db")}, "upstream": LOOPBACK})
    gateway = Gateway(config, store=BrokenKeys(str(tmp_path / "b.db")))
    await gateway.start()
    try:
        admin = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway.admin_app), base_url="http://localhost")
        tenant = (await admin.post("/api/v1/tenants", json={"name": "b", "subdomain": "broken"})).json()
        proxy = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway.proxy_app), base_url=f"http://broken.{BASE_DOMAIN}")
        response = await proxy.post("/v1/x", json={}, headers={"Authorization": f"Bearer {tenant['api_key']}"})
        assert response.status_code == 500
        error = response.json()["error"]
        assert error["code"] == "internal_error" and error["request_id"] == response.headers["x-request-id"]
        assert "key_hash" not in response.text and "KeyError" not in response.text
        assert any("key_hash column" in r.getMessage() or (r.exc_info and "key_hash" in str(r.exc_info[1])) for r in caplog.records)
        await admin.aclose()
        await proxy.aclose()
    finally:
        await gateway.stop()
