"""The Admin API against a browser and a guesser: content types, host names, CORS, throttling,
and one JSON envelope with a request id for every error (issue #9, items 8 and 10).

The browser attacks go through real uvicorn listeners and raw sockets (what a page or a rebinding
DNS name can make a browser send); the rest go through the ASGI app, which sees the same bytes.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aiproxy_core import GatewayConfig, UploadRoute, hookimpl
from aiproxy_core.admin.auth_throttle import AuthFailureThrottle
from aiproxy_sdk import LiveGateway

ADMIN_TOKEN = "operator-token-0123456789"


# -- helpers ----------------------------------------------------------------------------------
def raw_request(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is to the listener at ``url``; the status, headers and body it answered."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def post_tenant_raw(url: str, host: str, content_type: str | None, extra: str = "") -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"name": "Drive-by", "subdomain": "driveby"}).encode()
    type_line = f"Content-Type: {content_type}\r\n" if content_type else ""
    head = (
        f"POST /api/v1/tenants HTTP/1.1\r\nHost: {host}\r\nOrigin: http://evil.example\r\n{type_line}{extra}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return raw_request(url, head.encode() + body)


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert error["request_id"] and error["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return error


def admin_client(gw: Any, host: str = "localhost", client: tuple[str, int] = ("127.0.0.1", 50000)) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.gateway.admin_app, client=client), base_url=f"http://{host}")


async def tenant_ids(gw: Any, headers: dict[str, str] | None = None) -> list[str]:
    listed = await gw.admin.get("/api/v1/tenants", headers=headers)
    assert listed.status_code == 200, listed.text
    return [t["id"] for t in listed.json()["data"]]


@pytest.fixture
def live(tmp_path):
    config = GatewayConfig.model_validate({"storage": {"path": str(tmp_path / "admin.db")}})
    with LiveGateway(config) as gateway:
        yield gateway


def live_tenants(live: LiveGateway) -> list[str]:
    return [t["id"] for t in httpx.get(live.admin_url + "/api/v1/tenants").json()["data"]]


# -- item 8: a web page cannot drive the Admin API ----------------------------------------------
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_a_cross_origin_simple_post_creates_no_tenant(live, content_type):
    """The content types a page may POST cross-origin without a preflight are refused (no admin token set)."""
    before = live_tenants(live)
    port = live.admin_url.rsplit(":", 1)[1]
    status, headers, body = post_tenant_raw(live.admin_url, f"127.0.0.1:{port}", content_type)
    assert status == 415, body
    error = json.loads(body)["error"]
    assert error["code"] == "unsupported_media_type" and "application/json" in error["message"]
    assert error["request_id"] == headers["x-request-id"]
    assert not any(name.startswith("access-control-") for name in headers)
    assert live_tenants(live) == before


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON;Charset=\"UTF-8\""])
async def test_json_bodies_are_accepted_with_or_without_charset(aiproxy_gateway, content_type):
    body = json.dumps({"name": "Typed", "subdomain": "typed"})
    created = await aiproxy_gateway.admin.post("/api/v1/tenants", content=body, headers={"content-type": content_type})
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("content_type", ["application/json; charset=latin-1", "application/jsonx", "text/json", "application/json-patch+json"])
async def test_other_json_like_types_are_refused(aiproxy_gateway, content_type):
    before = await tenant_ids(aiproxy_gateway)
    body = json.dumps({"name": "Typed", "subdomain": "typed"})
    response = await aiproxy_gateway.admin.post("/api/v1/tenants", content=body, headers={"content-type": content_type})
    assert_envelope(response, 415, "unsupported_media_type")
    assert await tenant_ids(aiproxy_gateway) == before


def test_a_rebound_host_name_is_refused(live):
    """DNS rebinding: a page on rebind.evil.example whose name now points at 127.0.0.1."""
    before = live_tenants(live)
    status, headers, body = post_tenant_raw(live.admin_url, "rebind.evil.example", "application/json")
    assert status == 421, body
    error = json.loads(body)["error"]
    assert error["code"] == "host_not_allowed" and "rebind.evil.example" in error["message"]
    assert error["request_id"] == headers["x-request-id"]
    status, _, body = raw_request(live.admin_url, b"GET /api/v1/tenants HTTP/1.1\r\nHost: rebind.evil.example:80\r\nConnection: close\r\n\r\n")
    assert status == 421 and b"tnt_" not in body
    assert live_tenants(live) == before


@pytest.mark.parametrize("host", ["localhost", "LocalHost:8080", "localhost.", "127.0.0.1:1", "[::1]", "[::1]:8080"])
async def test_loopback_names_are_accepted_by_default(aiproxy_gateway, host):
    async with admin_client(aiproxy_gateway, host) as admin:
        assert (await admin.get("/api/v1/plugins")).status_code == 200


@pytest.mark.parametrize(
    "host", ["rebind.evil.example", "localhost.evil.example", "127.0.0.1.nip.io", "[::2]", "::1", "localhost:x", "[::1", "127.0.0.2", ""]
)
async def test_other_host_names_are_misdirected(aiproxy_gateway, host):
    async with admin_client(aiproxy_gateway) as admin:
        response = await admin.get("/api/v1/tenants", headers={"host": host})
    assert_envelope(response, 421, "host_not_allowed")


async def test_configured_host_names_replace_the_loopback_ones(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(config={"server": {"admin_hostnames": ["Admin.Example.com.", "localhost"]}})
    for host in ("admin.example.com", "ADMIN.example.COM.:8443"):
        async with admin_client(gw, host) as admin:
            assert (await admin.get("/api/v1/plugins")).status_code == 200, host
    async with admin_client(gw, "127.0.0.1") as admin:
        assert_envelope(await admin.get("/api/v1/plugins"), 421, "host_not_allowed")


# -- uploads: only on routes that take files, only with a credential ----------------------------
class Uploads:
    """A plugin with one route taking files (multipart, PDF) and one taking JSON only."""

    @hookimpl
    def admin_routes(self, services: Any) -> list[Any]:
        async def upload(request: Request) -> Response:
            return JSONResponse({"bytes": len(await request.body()), "type": request.headers["content-type"]})

        return [
            UploadRoute("/api/v1/test-uploads", upload, methods=["POST"], media_types=("multipart/form-data", "application/pdf")),
            Route("/api/v1/test-json", upload, methods=["POST"]),
        ]


async def test_files_only_on_upload_routes_and_only_with_authorization(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(plugins={"uploads": Uploads()})
    files = {"file": ("a.pdf", b"%PDF-1.4", "application/pdf")}
    auth = {"Authorization": "Bearer anything"}
    made = await gw.admin.post("/api/v1/test-uploads", files=files, headers=auth)
    assert made.status_code == 200 and made.json()["type"].startswith("multipart/form-data; boundary=")
    pdf = await gw.admin.post("/api/v1/test-uploads", content=b"%PDF-1.4", headers={**auth, "content-type": "application/pdf"})
    assert pdf.status_code == 200
    # Without a credential header (what a cross-origin form can send): refused.
    error = assert_envelope(await gw.admin.post("/api/v1/test-uploads", files=files), 415, "unsupported_media_type")
    assert "Authorization" in error["message"]
    # A type the upload route does not take, and files on a route that takes none.
    assert_envelope(
        await gw.admin.post("/api/v1/test-uploads", content=b"x", headers={**auth, "content-type": "text/plain"}), 415, "unsupported_media_type"
    )
    assert_envelope(await gw.admin.post("/api/v1/test-json", files=files, headers=auth), 415, "unsupported_media_type")
    assert (await gw.admin.post("/api/v1/test-json", json={}, headers=auth)).status_code == 200


# -- CORS ---------------------------------------------------------------------------------------
async def test_no_cors_allowance_by_default(aiproxy_gateway):
    origin = {"Origin": "https://console.example"}
    got = await aiproxy_gateway.admin.get("/api/v1/plugins", headers=origin)
    assert got.status_code == 200 and not any(h.startswith("access-control-") for h in got.headers)
    preflight = await aiproxy_gateway.admin.options(
        "/api/v1/tenants", headers={**origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    )
    assert_envelope(preflight, 405, "method_not_allowed")
    assert not any(h.startswith("access-control-") for h in preflight.headers)


async def test_listed_origins_get_cors_and_no_other(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(config={"server": {"admin_cors_origins": ["https://console.example"]}})
    preflight = await gw.admin.options(
        "/api/v1/tenants",
        headers={
            "Origin": "https://console.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204, preflight.text
    assert preflight.headers["access-control-allow-origin"] == "https://console.example"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert {"authorization", "content-type"} <= {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert "origin" in preflight.headers["vary"].lower()
    got = await gw.admin.get("/api/v1/plugins", headers={"Origin": "https://console.example"})
    assert got.headers["access-control-allow-origin"] == "https://console.example"
    assert "origin" in got.headers["vary"].lower()
    assert "x-request-id" in got.headers["access-control-expose-headers"].lower()
    for other in ("https://evil.example", "https://console.example.evil.example", "null"):
        refused = await gw.admin.get("/api/v1/plugins", headers={"Origin": other})
        assert "access-control-allow-origin" not in refused.headers
        assert "origin" in refused.headers["vary"].lower()  # caches must not reuse one origin's answer
        preflight = await gw.admin.options("/api/v1/tenants", headers={"Origin": other, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 405 and "access-control-allow-origin" not in preflight.headers


# -- throttling failed tokens and keys ------------------------------------------------------------
async def test_failed_admin_tokens_are_throttled_per_address(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(config={"server": {"admin_token": ADMIN_TOKEN, "admin_auth_failures_per_minute": 3}})
    good = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with admin_client(gw, client=("198.51.100.9", 1234)) as guesser, admin_client(gw, client=("198.51.100.10", 1)) as other:
        for attempt in range(3):
            assert_envelope(await guesser.get("/api/v1/tenants", headers={"Authorization": f"Bearer wrong-{attempt}"}), 401, "invalid_admin_token")
        throttled = assert_envelope(await guesser.get("/api/v1/tenants", headers={"Authorization": "Bearer wrong-3"}), 429, "too_many_auth_failures")
        assert "minute" in throttled["message"]
        # Even the right token waits out the minute: a guesser cannot tell a hit from a miss.
        blocked = await guesser.get("/api/v1/tenants", headers=good)
        assert_envelope(blocked, 429, "too_many_auth_failures")
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        created = await guesser.post("/api/v1/tenants", headers=good, json={"name": "Nope", "subdomain": "nope"})
        assert created.status_code == 429
        # Another address is not affected, and nothing was created.
        listed = await other.get("/api/v1/tenants", headers=good)
        assert listed.status_code == 200 and "nope" not in [t["subdomain"] for t in listed.json()["data"]]


async def test_failed_tenant_keys_are_throttled_too(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(config={"server": {"admin_auth_failures_per_minute": 2}})
    rules = f"/api/v1/tenants/{gw.tenant['id']}/rules"
    async with admin_client(gw, client=("203.0.113.50", 999)) as guesser:
        for attempt in range(2):
            assert_envelope(await guesser.get(rules, headers={"X-API-Key": f"aip_wrong{attempt}"}), 401, "invalid_api_key")
        assert_envelope(await guesser.get(rules, headers=gw.tenant_auth), 429, "too_many_auth_failures")
    # Calls without any credential are not attempts: they are not counted and not blocked.
    async with admin_client(gw, client=("203.0.113.50", 999)) as same_address:
        assert (await same_address.get("/api/v1/plugins")).status_code == 200
    assert (await gw.admin.get(rules, headers=gw.tenant_auth)).status_code == 200  # another address


async def test_the_throttle_counts_the_client_behind_a_trusted_proxy_only(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(
        config={"server": {"admin_token": ADMIN_TOKEN, "admin_auth_failures_per_minute": 2, "trusted_proxies": ["10.0.0.0/8"]}}
    )
    bad, good = {"Authorization": "Bearer wrong-token-000"}, {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    # A direct guesser cannot dodge the count by writing a new X-Forwarded-For each time.
    async with admin_client(gw, client=("198.51.100.20", 1)) as direct:
        for n in range(2):
            await direct.get("/api/v1/tenants", headers={**bad, "X-Forwarded-For": f"192.0.2.{n}"})
        assert_envelope(await direct.get("/api/v1/tenants", headers={**good, "X-Forwarded-For": "192.0.2.99"}), 429, "too_many_auth_failures")
    # Behind the trusted proxy, the guesser is locked out and another client of the same proxy is not.
    async with admin_client(gw, client=("10.1.2.3", 1)) as proxy:
        for _ in range(2):
            await proxy.get("/api/v1/tenants", headers={**bad, "X-Forwarded-For": "203.0.113.66"})
        assert (await proxy.get("/api/v1/tenants", headers={**good, "X-Forwarded-For": "203.0.113.66"})).status_code == 429
        assert (await proxy.get("/api/v1/tenants", headers={**good, "X-Forwarded-For": "203.0.113.67"})).status_code == 200


def test_the_throttle_forgets_after_a_minute_and_stays_bounded():
    now = [1000.0]
    throttle = AuthFailureThrottle(failures_per_minute=2, max_addresses=3, clock=lambda: now[0])
    assert throttle.retry_after("a") is None
    throttle.failed("a")
    throttle.failed("a")
    assert throttle.retry_after("a") == 60
    now[0] += 59.5
    assert throttle.retry_after("a") == 1
    now[0] += 0.5
    assert throttle.retry_after("a") is None  # the minute has passed
    throttle.failed("a")
    assert throttle.retry_after("a") is None  # a fresh minute, one failure in it
    for address in ("b", "c", "d", "e"):
        throttle.failed(address)
    assert len(throttle) == 3  # the oldest addresses were dropped, memory stays bounded


# -- item 10: one envelope with a request id -----------------------------------------------------
class Broken:
    @hookimpl
    def admin_routes(self, services: Any) -> list[Any]:
        async def explode(request: Request) -> Response:
            raise RuntimeError("secret internals: redis://user:pw@10.0.0.1")

        return [Route("/api/v1/test-broken", explode, methods=["GET"])]


async def test_every_admin_error_is_the_envelope_with_a_request_id(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(plugins={"broken": Broken()}, config={"server": {"admin_token": ADMIN_TOKEN}})
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert_envelope(await gw.admin.get("/nowhere"), 404, "not_found")
    assert_envelope(await gw.admin.delete("/api/v1/plugins"), 405, "method_not_allowed")
    assert_envelope(await gw.admin.get("/api/v1/tenants"), 401, "missing_admin_token")
    assert_envelope(await gw.admin.get("/api/v1/tenants/tnt_nope", headers=auth), 404, "tenant_not_found")
    assert_envelope(await gw.admin.post("/api/v1/tenants", headers=auth, json={"name": ""}), 422, "validation_error")
    unexpected = assert_envelope(await gw.admin.get("/api/v1/test-broken"), 500, "internal_error")
    assert "secret" not in unexpected["message"] and "redis://" not in unexpected["message"]
    assert unexpected["request_id"] in unexpected["message"]  # so the operator can find it in the log


async def test_the_request_id_is_the_clients_when_valid(aiproxy_gateway):
    admin = aiproxy_gateway.admin
    ok = await admin.get("/api/v1/plugins", headers={"X-Request-ID": "trace-42"})
    assert ok.status_code == 200 and ok.headers["x-request-id"] == "trace-42"
    error = assert_envelope(await admin.get("/nowhere", headers={"X-Request-ID": "trace-43"}), 404, "not_found")
    assert error["request_id"] == "trace-43"
    fresh = await admin.get("/api/v1/plugins")
    other = await admin.get("/api/v1/plugins")
    assert len(fresh.headers["x-request-id"]) == 32 and fresh.headers["x-request-id"] != other.headers["x-request-id"]
    for unfit in ("x" * 201, "a\tb"):
        answered = await admin.get("/nowhere", headers={"X-Request-ID": unfit})
        assert answered.headers["x-request-id"] != unfit and len(answered.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "Deep", "subdomain": "deep", "metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"[" * 50_000 + b"]" * 50_000,
        b'{"name": "Lone \\ud800 surrogate", "subdomain": "lone"}',
        b'{"name": "Lone", "subdomain": "lone", "tier": "\\udfff"}',
        b'{"name": "Raw", "subdomain": "raw", "tier": "\xed\xa0\x80"}',
    ],
    ids=["deep-object", "deep-array", "lone-high", "lone-low", "encoded-surrogate"],
)
async def test_deep_json_and_lone_surrogates_are_400_and_store_nothing(aiproxy_gateway_factory, aiproxy_backend, body):
    gw = await aiproxy_gateway_factory(redis=aiproxy_backend)
    before = await tenant_ids(gw)
    response = await gw.admin.post("/api/v1/tenants", content=body, headers={"content-type": "application/json"})
    assert_envelope(response, 400, "invalid_json")
    patched = await gw.admin.patch(f"/api/v1/tenants/{gw.tenant['id']}", content=body, headers={"content-type": "application/json"})
    assert_envelope(patched, 400, "invalid_json")
    assert await tenant_ids(gw) == before
    assert (await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}")).json() == {
        k: v for k, v in gw.tenant.items() if k not in ("api_key", "api_key_id")
    }
