"""The Proxy listener's own HTTP/1.1 protocol (server/proxy_protocol.py) over real sockets: what
HTTP/1.1 asks of a server beyond one request per connection (pipelining, Expect: 100-continue,
chunked and large bodies, keep-alive, HTTP/1.0), and what the app sees when the client leaves or
the app fails. The limits and refusals are tested on both protocols in test_http_limits.py, the
answer framing in test_response_cycle.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any, Iterator

import pytest

from aiproxy_core.server.http_protocol import HttpLimits
from aiproxy_core.server.proxy_protocol import proxy_protocol
from aiproxy_sdk import ServerThread

DISCONNECTS: list[str] = []


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/fail":
        raise RuntimeError("a bug in the app")
    if path == "/refuse":  # answers without reading the body (as the Proxy API refuses a bad key)
        await send({"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/wait-for-disconnect":
        message = await receive()  # the (empty) body
        message = await receive()  # then only the end of the exchange
        DISCONNECTS.append(message["type"])
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if path == "/slow":
        await asyncio.sleep(0.2)
    answer = json.dumps({"path": path, "query": scope["query_string"].decode(), "bytes": len(body), "http": scope["http_version"]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    protocol = proxy_protocol(HttpLimits(header_timeout=5.0, max_header_bytes=16384, max_header_count=100))
    with ServerThread(app, http=protocol, timeout_keep_alive=1.0) as url:
        yield int(url.rsplit(":", 1)[1])


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def read_answer(sock: socket.socket, buffered: bytearray) -> tuple[bytes, dict[str, Any]]:
    """One content-length answer from ``sock`` (``buffered`` holds what was read past it)."""
    while b"\r\n\r\n" not in buffered:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed before an answer"
        buffered += chunk
    head, _, rest = bytes(buffered).partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed inside an answer"
        rest += chunk
    buffered[:] = rest[length:]
    return head, json.loads(rest[:length])


def read_until_closed(sock: socket.socket) -> tuple[bytes, bytes]:
    """The head and body of the answer the server sends before it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        return False
    except ConnectionError:
        return True
    return True


def test_pipelined_requests_are_answered_in_order(port: int) -> None:
    requests = b"".join(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".encode() for path in ("/slow", "/a", "/b?c=d")
    )
    with connect(port) as sock:
        sock.sendall(requests)  # one write: the first is still being answered when the others arrive
        buffered = bytearray()
        answers = [read_answer(sock, buffered)[1] for _ in range(3)]
    assert [answer["path"] for answer in answers] == ["/slow", "/a", "/b"]
    assert answers[2]["query"] == "c=d" and all(answer["bytes"] == 3 for answer in answers)


def test_a_bad_request_pipelined_behind_a_good_one_lets_the_good_one_be_answered(port: int) -> None:
    # HTTP/1.1 answers in order: the refusal of the second cannot take the place of the first's
    # answer, nor cancel it. The first is answered, then the connection closes.
    with connect(port) as sock:
        sock.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + b"NOT HTTP AT ALL\r\n\r\n")
        buffered = bytearray()
        head, answer = read_answer(sock, buffered)
        assert head.startswith(b"HTTP/1.1 200") and answer["path"] == "/slow"
        assert closed_within(sock, 2.0)


def expecting_continue(sock: socket.socket, path: str) -> tuple[bytes, bytearray]:
    """Send a 5-byte POST to ``path`` with ``Expect: 100-continue`` but not its body; the first
    head the server sends, and what followed it."""
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, bytearray(rest)


def test_expect_100_continue_gets_the_interim_answer_before_the_body_is_sent(port: int) -> None:
    with connect(port) as sock:
        interim, buffered = expecting_continue(sock, "/upload")
        assert interim == b"HTTP/1.1 100 Continue"
        sock.sendall(b"hello")
        head, answer = read_answer(sock, buffered)
    assert head.startswith(b"HTTP/1.1 200") and answer["bytes"] == 5


def test_a_request_refused_before_its_body_is_read_gets_no_100_continue(port: int) -> None:
    with connect(port) as sock:
        head, buffered = expecting_continue(sock, "/refuse")
        assert head.startswith(b"HTTP/1.1 401") and b"100 Continue" not in head + buffered
        sock.sendall(b"hello" + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")  # the body it sent anyway is skipped
        assert read_answer(sock, buffered)[1]["path"] == "/next"


def test_a_chunked_body_and_a_large_body_arrive_whole(port: int) -> None:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (b"a" * 10, b"b" * 7000, b"c")) + b"0\r\n\r\n"
    large = b"x" * (1024 * 1024)  # past the buffer at which reading pauses until the app takes it
    with connect(port) as sock:
        sock.sendall(b"POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
        buffered = bytearray()
        assert read_answer(sock, buffered)[1]["bytes"] == 7011
        sock.sendall(b"POST /large HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(large) + large)
        assert read_answer(sock, buffered)[1]["bytes"] == len(large)


def test_a_busy_keep_alive_connection_stays_open_and_an_idle_one_closes(port: int) -> None:
    with connect(port) as sock:
        buffered = bytearray()
        started = time.monotonic()
        while time.monotonic() - started < 2.0:  # twice keepalive_timeout, never idle for long
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(sock, buffered)[1]["path"] == "/ping"
            time.sleep(0.3)
        assert closed_within(sock, 2.5)  # idle now: closed about keepalive_timeout after the last answer


def test_http_1_0_is_answered_and_closed(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET /old HTTP/1.0\r\nHost: x\r\n\r\n")
        head, body = read_until_closed(sock)
    assert b"connection: close" in head and json.loads(body)["http"] == "1.0"


def test_the_app_hears_a_client_that_left(port: int) -> None:
    DISCONNECTS.clear()
    with connect(port) as sock:
        sock.sendall(b"GET /wait-for-disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
    deadline = time.monotonic() + 5
    while not DISCONNECTS and time.monotonic() < deadline:
        time.sleep(0.02)
    assert DISCONNECTS == ["http.disconnect"]


def test_an_app_that_fails_answers_with_the_envelope_never_a_traceback(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET /fail HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body = read_until_closed(sock)
    assert head.startswith(b"HTTP/1.1 500") and b"connection: close" in head
    error = json.loads(body)["error"]
    assert error["code"] and error["request_id"] and "Traceback" not in body.decode() and "a bug in the app" not in body.decode()
