"""HTTP limits at the protocol layer, on both listeners, through raw sockets (issue #9, items 5 and 11).

What an attacker does with a socket: trickles a header (slowloris), opens connections and sends
nothing, sends a 100 KiB header or 101 of them, two Host headers, a WebSocket upgrade, a chunked
body past the limit. Each must be answered (or the connection closed) before the gateway reads
more than its limits, and the upstream must never see the request.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import select
import socket
import threading
import time
from typing import Callable, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from aiproxy_core import GatewayConfig
from aiproxy_sdk import GatewayProcess, LiveGateway, ServerThread

BASE_DOMAIN = "limits.test"
TENANT_HOST = f"acme.{BASE_DOMAIN}"
HEADER_TIMEOUT = 0.5
KEEPALIVE_TIMEOUT = 0.5
MAX_HEADER_BYTES = 64 * 1024  # the defaults: the tests prove them
MAX_HEADER_COUNT = 100
#: Long enough for a loaded machine to answer, far shorter than any timeout that is not configured.
PATIENCE = 4.0


# --- an upstream that records what reached it -------------------------------------------------


class RecordingUpstream:
    """Answers every request with ``{"ok": true}`` and keeps the paths and header sizes it saw."""

    def __init__(self) -> None:
        self.seen: list[dict] = []

        async def record(request: Request) -> JSONResponse:
            self.seen.append(
                {
                    "path": request.url.path,
                    "header_bytes": sum(len(k) + len(v) for k, v in request.headers.raw),
                    "header_count": len(request.headers.raw),
                }
            )
            await request.body()
            return JSONResponse({"ok": True})

        self.app = Starlette(routes=[Route("/{path:path}", record, methods=["GET", "POST"])])


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[RecordingUpstream, str]]:
    recorder = RecordingUpstream()
    with ServerThread(recorder.app) as url:
        yield recorder, url


def limits_config(tmp_path, **server: object) -> dict:
    return {
        "server": {
            "base_domain": BASE_DOMAIN,
            "header_timeout": HEADER_TIMEOUT,
            "keepalive_timeout": KEEPALIVE_TIMEOUT,
            "max_body_bytes": 4096,
            "max_admin_body_bytes": 4096,
            **server,
        },
        "storage": {"path": str(tmp_path / "limits.db")},
        "upstream": {"allowed_networks": ["127.0.0.1/32"]},
    }


def seed(admin_url: str, target: str) -> str:
    """A tenant ``acme`` with a ``/v1`` rule to ``target``; its key."""
    with httpx.Client(base_url=admin_url) as admin:
        tenant = admin.post("/api/v1/tenants", json={"name": "Acme", "subdomain": "acme"})
        assert tenant.status_code == 201, tenant.text
        key = tenant.json()["api_key"]
        rule = admin.post(
            f"/api/v1/tenants/{tenant.json()['id']}/rules",
            headers={"Authorization": f"Bearer {key}"},
            json={"path": "/v1", "target": target, "methods": ["GET", "POST"]},
        )
        assert rule.status_code == 201, rule.text
    return key


@dataclasses.dataclass
class Listeners:
    proxy_url: str
    admin_url: str
    key: str  #: tenant acme's, for the proxy


@pytest.fixture
def live(request, tmp_path, upstream) -> Iterator[Listeners]:
    recorder, url = upstream
    # "proxy-on-uvicorn": the Proxy listener on uvicorn's protocol (server.proxy_server), which
    # must keep the same limits as the gateway's own.
    params = getattr(request.node, "callspec", None)
    on_uvicorn = params is not None and params.params.get("which") == "proxy-on-uvicorn"
    config = limits_config(tmp_path, **({"proxy_server": "uvicorn"} if on_uvicorn else {}))
    with LiveGateway(GatewayConfig.model_validate(config)) as gateway:
        listeners = Listeners(gateway.proxy_url, gateway.admin_url, seed(gateway.admin_url, url))
        recorder.seen.clear()
        yield listeners


# --- raw sockets --------------------------------------------------------------------------------


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def connect(url: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port_of(url)), timeout=PATIENCE)
    return sock


def send_all(sock: socket.socket, data: bytes) -> None:
    """Send what the server takes: one that answers early and closes may stop reading midway."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response (Content-Length or chunked body); headers lower-cased."""
    buffer = b""
    deadline = time.monotonic() + PATIENCE
    while b"\r\n\r\n" not in buffer:
        assert time.monotonic() < deadline, f"no complete response head: {buffer[:200]!r}"
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before a response: {buffer[:200]!r}"
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"{name} sent twice"
        headers[name.lower()] = value.strip()
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length:
            assert time.monotonic() < deadline, "the body did not arrive"
            chunk = sock.recv(65536)
            assert chunk, "the connection closed inside the body"
            rest += chunk
        return status, headers, rest[:length]
    assert headers.get("transfer-encoding") == "chunked", headers
    while not rest.endswith(b"0\r\n\r\n"):
        assert time.monotonic() < deadline, "the chunked body did not end"
        chunk = sock.recv(65536)
        assert chunk, "the connection closed inside the chunked body"
        rest += chunk
    return status, headers, dechunk(rest)


def dechunk(data: bytes) -> bytes:
    body = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return body
        body, data = body + data[:size], data[size + 2 :]


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection (EOF or reset) within ``seconds``, reading as it comes."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if sock.recv(65536) == b"":
                return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
    return False


def assert_envelope(status: int, headers: dict[str, str], body: bytes, expected_status: int, code: str) -> dict:
    assert status == expected_status, body
    assert headers["content-type"].startswith("application/json"), headers
    error = json.loads(body)["error"]
    assert error["code"] == code, error
    assert set(error) >= {"type", "code", "message", "request_id"}
    assert error["request_id"] and headers["x-request-id"] == error["request_id"]
    assert "Traceback" not in error["message"]
    return error


def request(host: str, *extra_headers: str, method: str = "GET", path: str = "/v1/models", body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *extra_headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


LISTENERS = ["proxy", "proxy-on-uvicorn", "admin"]


def listener(live: Listeners, which: str) -> tuple[str, Callable[..., bytes]]:
    """The listener's URL, and how to build a request it serves with 200 (more headers optional)."""
    if which.startswith("proxy"):
        return live.proxy_url, functools.partial(request, TENANT_HOST, f"Authorization: Bearer {live.key}")
    return live.admin_url, functools.partial(request, "127.0.0.1", path="/healthz")


def padded_to(build, total: int) -> bytes:
    """The request ``build(pad)`` makes, with an ``X-Pad`` header sized so the header block is ``total`` bytes."""
    base = build("X-Pad: ")
    pad = total - len(base)
    assert pad > 0
    return build("X-Pad: " + "p" * pad)


# --- the limits -------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", LISTENERS)
def test_a_fresh_connection_that_sends_nothing_is_closed(live, which):
    url, _ = listener(live, which)
    with connect(url) as sock:
        assert closed_within(sock, PATIENCE), "an idle new connection stays open (header_timeout not applied)"


@pytest.mark.parametrize("second_request", [False, True], ids=["first", "kept-alive"])
@pytest.mark.parametrize("which", LISTENERS)
def test_slowloris_is_closed_and_never_forwarded(live, upstream, which, second_request):
    """Header bytes trickled one every 0.1 s (each one resets no timer): closed after header_timeout."""
    recorder, _ = upstream
    url, build = listener(live, which)
    with connect(url) as sock:
        if second_request:  # the timer runs from the first byte of each request, not of the connection
            sock.sendall(build())
            assert read_response(sock)[0] == 200
            recorder.seen.clear()
        head = build(path="/v1/slow")[:-2]  # everything but the blank line that ends the headers
        trickle = b"X-Slow: " + b"s" * 80 + b"\r\n\r\n"
        sock.sendall(head)
        closed = False
        for byte in trickle:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if closed_within(sock, 0.1):
                closed = True
                break
        assert closed, "the connection outlived a header that took 9 s to arrive"
    assert recorder.seen == [], "the trickled request reached the upstream"


@pytest.mark.parametrize("which", LISTENERS)
def test_a_keep_alive_connection_is_closed_after_keepalive_timeout(live, which):
    url, build = listener(live, which)
    with connect(url) as sock:
        sock.sendall(build())
        status, headers, _ = read_response(sock)
        assert status == 200 and headers.get("connection") != "close"
        # uvicorn's own default is 5 s; the configured 0.5 s must be the one applied.
        assert closed_within(sock, 3.0), "an idle keep-alive connection stayed open past keepalive_timeout"


@pytest.mark.parametrize("which", LISTENERS)
def test_a_100_kib_header_is_refused_431_and_never_forwarded(live, upstream, which):
    recorder, _ = upstream
    url, build = listener(live, which)
    with connect(url) as sock:
        send_all(sock, build("X-Big: " + "b" * 100 * 1024))
        status, headers, body = read_response(sock)
        error = assert_envelope(status, headers, body, 431, "headers_too_large")
        assert headers["connection"] == "close"
        assert "65536" in error["message"]
        assert closed_within(sock, PATIENCE)
    assert recorder.seen == []


def test_a_50_mib_header_is_answered_431_while_it_is_still_being_sent(live, upstream):
    """The gateway answers once it has read about its limit, not after the whole header."""
    recorder, _ = upstream
    url, build = listener(live, "proxy")
    with connect(url) as sock:
        sock.sendall(build()[:-2] + b"X-Huge: ")
        sent, piece = 0, b"h" * 65536
        while sent < 50 * 1024 * 1024 and not select.select([sock], [], [], 0)[0]:
            try:
                sent += sock.send(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
        assert sent < 50 * 1024 * 1024, "no answer before the whole 50 MiB header was sent"
        status, headers, body = read_response(sock)
        assert_envelope(status, headers, body, 431, "headers_too_large")
    assert recorder.seen == []


@pytest.mark.parametrize("which", LISTENERS)
def test_101_header_fields_are_refused_431(live, upstream, which):
    recorder, _ = upstream
    url, build = listener(live, which)
    fixed = 2 if which != "admin" else 1  # Host (and Authorization)
    fields = [f"X-Field-{i}: v" for i in range(MAX_HEADER_COUNT + 1 - fixed)]
    with connect(url) as sock:
        send_all(sock, build(*fields))
        status, headers, body = read_response(sock)
        error = assert_envelope(status, headers, body, 431, "headers_too_large")
        assert "100" in error["message"]
    assert recorder.seen == []


@pytest.mark.parametrize("which", LISTENERS)
def test_exactly_at_the_limits_passes(live, upstream, which):
    recorder, _ = upstream
    url, build = listener(live, which)
    fixed = 2 if which != "admin" else 1
    fields = [f"X-Field-{i}: v" for i in range(MAX_HEADER_COUNT - fixed - 1)]  # the pad is the 100th

    def block(pad: str) -> bytes:
        return build(*fields, pad)

    at_limit = padded_to(block, MAX_HEADER_BYTES)
    assert len(at_limit) == MAX_HEADER_BYTES and at_limit.count(b"\r\n") - 2 == MAX_HEADER_COUNT
    with connect(url) as sock:
        sock.sendall(at_limit)
        assert read_response(sock)[0] == 200
    over = padded_to(block, MAX_HEADER_BYTES + 1)
    with connect(url) as sock:
        send_all(sock, over)
        assert read_response(sock)[0] == 431
    if which != "admin":
        assert len(recorder.seen) == 1 and recorder.seen[0]["header_count"] >= MAX_HEADER_COUNT - 2


@pytest.mark.parametrize("which", LISTENERS)
def test_two_host_headers_are_refused_400(live, upstream, which):
    recorder, _ = upstream
    url, build = listener(live, which)
    for second in (f"Host: other.{BASE_DOMAIN}", f"host: {TENANT_HOST}"):  # a different name and the same one
        with connect(url) as sock:
            send_all(sock, build(second))
            status, headers, body = read_response(sock)
            assert_envelope(status, headers, body, 400, "duplicate_host")
    assert recorder.seen == []


WEBSOCKET = ("Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")


@pytest.mark.parametrize("which", LISTENERS)
def test_a_websocket_upgrade_is_refused_with_the_envelope(live, upstream, which):
    recorder, _ = upstream
    url, build = listener(live, which)
    with connect(url) as sock:
        send_all(sock, build(*WEBSOCKET, path="/v1/realtime" if which != "admin" else "/healthz"))
        status, headers, body = read_response(sock)
        assert_envelope(status, headers, body, 400, "websocket_not_supported")
        assert headers["connection"] == "close"
    assert recorder.seen == []


def test_another_upgrade_is_answered_without_switching_protocols(live, upstream):
    recorder, _ = upstream
    url, build = listener(live, "proxy")
    with connect(url) as sock:
        sock.sendall(build("Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA"))
        status, headers, body = read_response(sock)
        assert status == 200 and json.loads(body) == {"ok": True}
        assert "upgrade" not in headers
        # What follows an Upgrade request may be the other protocol: never read as HTTP/1.1.
        assert headers["connection"] == "close" and closed_within(sock, PATIENCE)
    assert [r["path"] for r in recorder.seen] == ["/v1/models"]


def test_an_upgrade_with_a_body_is_refused(live, upstream):
    """httptools hands everything after an Upgrade request's head to the new protocol: the body
    would be lost, and a body holding a request would be read as one (smuggling)."""
    recorder, _ = upstream
    smuggled = b"GET /v1/smuggled HTTP/1.1\r\nHost: " + TENANT_HOST.encode() + b"\r\n\r\n"
    url, build = listener(live, "proxy")
    with connect(url) as sock:
        send_all(sock, build("Connection: Upgrade", "Upgrade: foo", method="POST", path="/v1/chat", body=smuggled))
        status, headers, body = read_response(sock)
        assert_envelope(status, headers, body, 400, "upgrade_not_supported")
        assert closed_within(sock, PATIENCE)
    assert recorder.seen == []


def test_connect_is_refused(live, upstream):
    recorder, _ = upstream
    with connect(live.proxy_url) as sock:
        sock.sendall(f"CONNECT 127.0.0.1:{port_of(live.admin_url)} HTTP/1.1\r\nHost: {TENANT_HOST}\r\n\r\n".encode())
        status, headers, body = read_response(sock)
        assert_envelope(status, headers, body, 400, "connect_not_supported")
        assert closed_within(sock, PATIENCE)
    assert recorder.seen == []


@pytest.mark.parametrize("which", LISTENERS)
def test_a_malformed_header_gets_the_envelope(live, which):
    url, _ = listener(live, which)
    with connect(url) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        status, headers, body = read_response(sock)
        assert_envelope(status, headers, body, 400, "invalid_http_request")


@pytest.mark.parametrize("which", LISTENERS)
def test_a_malformed_request_pipelined_behind_a_good_one_does_not_take_its_answer(live, which):
    # HTTP/1.1 answers in order: the good request is answered (not cancelled, not replaced by the
    # refusal), then the connection closes.
    url, build = listener(live, which)
    with connect(url) as sock:
        sock.sendall(build() + b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        status, _, _ = read_response(sock)
        assert status == 200
        assert closed_within(sock, 3.0)


@pytest.mark.parametrize("which", LISTENERS)
def test_a_malformed_chunked_body_gets_the_envelope_and_is_never_forwarded(live, upstream, which, caplog):
    recorder, _ = upstream
    url, build = listener(live, which)
    path = "/v1/chat" if which != "admin" else "/api/v1/tenants"
    with connect(url) as sock:
        send_all(sock, build("Transfer-Encoding: chunked", method="POST", path=path) + b"5\r\n{}{}{\r\nzz\r\n")
        status, headers, body = read_response(sock)
        assert_envelope(status, headers, body, 400, "invalid_http_request")
        assert closed_within(sock, PATIENCE)
    assert recorder.seen == []
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")], caplog.text


# --- chunked bodies past max_body_bytes (the body readers: the lead's and the Admin API's) --------


def chunked(body: bytes, chunk_size: int) -> bytes:
    out = b""
    for start in range(0, len(body), chunk_size):
        piece = body[start : start + chunk_size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


@pytest.mark.parametrize(
    "chunk_size, size",
    [(64 * 1024, 64 * 1024), (100, 64 * 1024), (1000, 5000)],
    # The last arrives whole before it is read: the own listener hands it over in one call.
    ids=["one-64KiB-chunk", "many-small-chunks", "5KB-arrived-whole"],
)
@pytest.mark.parametrize("which", LISTENERS)
def test_a_chunked_body_over_the_limit_is_refused_413(live, upstream, which, chunk_size, size):
    recorder, _ = upstream
    payload = json.dumps({"name": "x" * size, "subdomain": "big"}).encode()
    url, build = listener(live, which)
    path = "/v1/chat" if which != "admin" else "/api/v1/tenants"
    head = build("Transfer-Encoding: chunked", "Content-Type: application/json", method="POST", path=path)
    with connect(url) as sock:
        send_all(sock, head + chunked(payload, chunk_size))
        status, headers, body = read_response(sock)
        assert_envelope(status, headers, body, 413, "body_too_large")
    assert recorder.seen == []
    if which == "admin":
        assert [t["subdomain"] for t in httpx.get(live.admin_url + "/api/v1/tenants").json()["data"]] == ["acme"]


# --- aiproxy serve: the same protocol, and shutdown_grace on SIGTERM --------------------------------


def slow_stream_upstream(events: int, interval: float) -> Starlette:
    async def stream(request: Request) -> StreamingResponse:
        async def body():
            import asyncio

            for n in range(events):
                yield f'data: {{"n": {n}}}\n\n'.encode()
                await asyncio.sleep(interval)
            yield b"data: [DONE]\n\n"

        return StreamingResponse(body(), media_type="text/event-stream")

    return Starlette(routes=[Route("/{path:path}", stream, methods=["GET", "POST"])])


def process_config(tmp_path, **server: object) -> dict:
    config = limits_config(tmp_path, **server)
    config["storage"]["path"] = str(tmp_path / f"serve-{len(server)}.db")
    return config


def start_stream(gateway: GatewayProcess, key: str) -> tuple[socket.socket, bytes]:
    """A streamed request through the gateway, once its first event has arrived; what was read."""
    sock = socket.create_connection(("127.0.0.1", gateway.proxy_port), timeout=PATIENCE)
    sock.sendall(request(TENANT_HOST, f"Authorization: Bearer {key}", path="/v1/stream"))
    first = b""
    while b'"n": 0' not in first:
        chunk = sock.recv(65536)
        assert chunk, first
        first += chunk
    return sock, first


def read_until_closed(sock: socket.socket, seconds: float) -> bytes:
    data = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"the connection was still open after {seconds} s: {data[-200:]!r}")


def refuses_connections(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


def test_aiproxy_serve_applies_the_header_limits(tmp_path, upstream):
    recorder, url = upstream
    with GatewayProcess(process_config(tmp_path), workdir=tmp_path) as gateway:
        key = seed(gateway.admin_url, url)
        recorder.seen.clear()
        for port, head in (
            (gateway.proxy_port, request(TENANT_HOST, f"Authorization: Bearer {key}", "X-Big: " + "b" * 100 * 1024)),
            (gateway.admin_port, request("127.0.0.1", "X-Big: " + "b" * 100 * 1024, path="/healthz")),
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as sock:
                send_all(sock, head)
                status, headers, body = read_response(sock)
                assert_envelope(status, headers, body, 431, "headers_too_large")
            with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as idle:
                assert closed_within(idle, PATIENCE)
    assert recorder.seen == []


def test_sigterm_lets_a_stream_in_flight_finish_within_shutdown_grace(tmp_path):
    with ServerThread(slow_stream_upstream(events=5, interval=0.4)) as url:
        with GatewayProcess(process_config(tmp_path, shutdown_grace=30), workdir=tmp_path) as gateway:
            key = seed(gateway.admin_url, url)
            sock, first = start_stream(gateway, key)
            stopping = threading.Thread(target=gateway.stop)
            stopping.start()
            try:
                assert refuses_connections(gateway.proxy_port, PATIENCE), "still accepting connections after SIGTERM"
                rest = read_until_closed(sock, 10)
            finally:
                sock.close()
                stopping.join(20)
            assert not stopping.is_alive()
            received = first + rest
            assert b"data: [DONE]" in received and received.endswith(b"0\r\n\r\n"), received[-200:]
            assert all(f'"n": {n}'.encode() in received for n in range(5))


def test_sigterm_cuts_a_stream_still_running_after_shutdown_grace(tmp_path):
    """The stream would take 6 s; shutdown_grace is 1 s (uvicorn's fixed 10 s would let it finish)."""
    with ServerThread(slow_stream_upstream(events=12, interval=0.5)) as url:
        with GatewayProcess(process_config(tmp_path, shutdown_grace=1), workdir=tmp_path) as gateway:
            key = seed(gateway.admin_url, url)
            sock, first = start_stream(gateway, key)
            stopping = threading.Thread(target=gateway.stop)
            stopping.start()
            try:
                rest = read_until_closed(sock, 5)
            finally:
                sock.close()
                stopping.join(20)
            assert not stopping.is_alive()
            received = first + rest
            assert b"[DONE]" not in received and not received.endswith(b"0\r\n\r\n"), "the stream was not cut"
