"""The listeners' leaner answer paths, over real sockets: uvicorn's protocol with the gateway's
cycle (server/response_cycle.py) and the Proxy listener's own protocol (server/proxy_protocol.py).
What a client receives from either must be what uvicorn's own cycle sent.

A small ASGI app sends each kind of answer; the client reads raw bytes, so framing, the header
block and the order of arrival are seen as they are on the wire.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from aiproxy_core.server.http_protocol import HttpLimits, limited_protocol
from aiproxy_core.server.proxy_protocol import proxy_protocol
from aiproxy_sdk import ServerThread

PROCEED = threading.Event()
#: Paths answered through the own protocol's one-call whole answer (``_Exchange.answer``).
ANSWERED_IN_ONE_CALL: list[str] = []


async def whole_answer(path: str, send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """As the Proxy API sends an answer that is not streamed: in one call where the protocol takes
    one (the gateway's own), else as two ASGI messages."""
    answer = getattr(getattr(send, "__self__", None), "answer", None)
    if answer is not None and answer(status, headers, body):
        ANSWERED_IN_ONE_CALL.append(path)
        return
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path.startswith("/in-one-call/"):
        await one_call_app(path, send)
    elif path == "/whole":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"Content-Type", b"text/plain"), (b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello"})
    elif path == "/head-then-wait":
        # The body comes later than the turn: the head must not wait for it.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        await _wait_for(PROCEED)
        await send({"type": "http.response.body", "body": b"late"})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await _wait_for(PROCEED)
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/no-content":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/close":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2"), (b"Connection", b"close")]})
        await send({"type": "http.response.body", "body": b"ok"})
    elif path == "/bad-value":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-injected", b"a\r\nset-cookie: evil=1"), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/bad-name":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x bad", b"1"), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/too-long":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"three"})


async def one_call_app(path: str, send: Any) -> None:
    """The same answers as :func:`app`'s, given whole."""
    kind = path.rpartition("/")[2]
    if kind == "whole":
        await whole_answer(path, send, 200, [(b"Content-Type", b"text/plain"), (b"content-length", b"5")], b"hello")
    elif kind == "close":
        await whole_answer(path, send, 200, [(b"content-length", b"2"), (b"Connection", b"close")], b"ok")
    elif kind == "bad-value":
        await whole_answer(path, send, 200, [(b"x-injected", b"a\r\nset-cookie: evil=1"), (b"content-length", b"0")], b"")
    elif kind == "bad-name":
        await whole_answer(path, send, 200, [(b"x bad", b"1"), (b"content-length", b"0")], b"")
    elif kind == "too-long":
        await whole_answer(path, send, 200, [(b"content-length", b"2")], b"three")


async def _wait_for(event: threading.Event) -> None:
    import asyncio

    while not event.is_set():
        await asyncio.sleep(0.005)


@pytest.fixture(scope="module", params=["uvicorn", "aiproxy"])
def server(request: pytest.FixtureRequest) -> Any:
    limits = HttpLimits(header_timeout=5.0, max_header_bytes=16384, max_header_count=100)
    protocol = limited_protocol(limits) if request.param == "uvicorn" else proxy_protocol(limits)
    with ServerThread(app, http=protocol) as url:
        yield int(url.rsplit(":", 1)[1])


#: Each answer as two ASGI messages, and given whole in one call (on uvicorn's protocol, which
#: has no such call, as messages again): the client must not tell them apart.
WAYS = ["", "/in-one-call"]


def ask(port: int, path: str, method: str = "GET") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("way", WAYS)
def test_a_whole_answer_arrives_framed_as_before(server: int, way: str) -> None:
    with ask(server, way + "/whole") as sock:
        data = read_until(sock, b"hello")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK" and body == b"hello"
    assert b"content-type: text/plain" in lines and b"content-length: 5" in lines  # names lowercased, as uvicorn sends them
    assert any(line.startswith(b"date: ") for line in lines)  # the server's own headers, as before


@pytest.mark.parametrize("way", WAYS)
def test_a_kept_alive_connection_gets_the_current_date(server: int, way: str) -> None:
    # The server replaces its default headers every second; a connection must not keep the first.
    def date_of(answer: bytes) -> bytes:
        return next(line for line in answer.split(b"\r\n") if line.startswith(b"date: "))

    request = f"GET {way}/whole HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(request)
        first = read_until(sock, b"hello")
        time.sleep(1.2)
        sock.sendall(request)
        second = read_until(sock, b"hello")
    assert date_of(first) != date_of(second)


def test_the_head_is_not_held_when_the_body_comes_later(server: int) -> None:
    PROCEED.clear()
    try:
        with ask(server, "/head-then-wait") as sock:
            head = read_until(sock, b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK") and head.endswith(b"\r\n\r\n")  # before the body exists
            PROCEED.set()
            assert read_until(sock, b"late").endswith(b"late")
    finally:
        PROCEED.set()


def test_a_stream_sends_its_head_before_its_first_event(server: int) -> None:
    PROCEED.clear()
    try:
        with ask(server, "/stream") as sock:
            head = read_until(sock, b"\r\n\r\n")
            assert b"transfer-encoding: chunked" in head
            PROCEED.set()
            rest = read_until(sock, b"0\r\n\r\n")
            assert rest.startswith(b"9\r\ndata: 1\n\n\r\n") and rest.endswith(b"0\r\n\r\n")
    finally:
        PROCEED.set()


@pytest.mark.parametrize("way", WAYS)
def test_head_and_no_content_answers_carry_no_body(server: int, way: str) -> None:
    with ask(server, way + "/whole", method="HEAD") as sock:
        data = read_until(sock, b"\r\n\r\n")
        sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            sock.recv(1)  # no body follows a HEAD answer
    assert b"content-length: 5" in data
    with ask(server, "/no-content") as sock:
        data = read_until(sock, b"\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 204") and b"transfer-encoding" not in data


@pytest.mark.parametrize("way", WAYS)
def test_connection_close_closes_after_the_answer(server: int, way: str) -> None:
    with ask(server, way + "/close") as sock:
        data = b""
        while chunk := sock.recv(65536):  # ends: the server closed
            data += chunk
    assert data.endswith(b"\r\n\r\nok") and b"connection: close" in data.lower()


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("path", ["/bad-value", "/bad-name", "/too-long"])
def test_a_header_injection_or_a_wrong_length_never_reaches_the_client(server: int, path: str, way: str) -> None:
    with ask(server, way + path) as sock:
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    # Refused before anything was written (the held head included): the connection just closes,
    # and the client sees a broken answer, never a forged header or a body past its length.
    assert data == b""


def test_the_own_protocol_takes_a_whole_answer_in_one_call(server: int, request: pytest.FixtureRequest) -> None:
    ANSWERED_IN_ONE_CALL.clear()
    with ask(server, "/in-one-call/whole") as sock:
        read_until(sock, b"hello")
    own = request.node.callspec.params["server"] == "aiproxy"
    assert ANSWERED_IN_ONE_CALL == (["/in-one-call/whole"] if own else [])


def test_a_header_byte_is_refused_exactly_when_uvicorn_refuses_it() -> None:
    from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE

    from aiproxy_core.server.answer_head import answer_head

    def refused(headers: list[tuple[bytes, bytes]]) -> bool:
        try:
            answer_head(200, headers, [], True, False)
        except RuntimeError:
            return True
        return False

    for byte in range(256):
        one = bytes([byte])
        assert refused([(b"x-a" + one, b"1")]) == bool(HEADER_RE.search(one)), f"name byte {byte:#04x}"
        assert refused([(b"x-a", b"v" + one + b"w")]) == bool(HEADER_VALUE_RE.search(one)), f"value byte {byte:#04x}"
