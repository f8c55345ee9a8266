"""Generated raw requests against the Proxy API's parsing, over a real socket to a real listener.

Each example is one request written byte by byte: odd methods, paths with dot segments in every
spelling (``..``, ``%2e%2e``, ``%2f``, ``%3f``, ``%23``, ``%00``, backslashes, double slashes,
non-ASCII, over-long), Host variants (trailing dot, ports, two of them, none), Content-Length
against Transfer-Encoding, chunked bodies with odd chunk sizes, client ``X-Forwarded-*``, and
JSON or other bodies. The key calls only the rule ``/v1/public`` (upstream path ``/public-up``);
a second rule ``/v1/private`` goes to ``/private-up``.

Whatever is sent: the connection gets a well-formed HTTP answer or is closed (never left
hanging), the answer is below 500 (the upstream always answers 200, so a 5xx is the gateway's),
every error is the JSON envelope without a traceback, and the upstream only ever sees a path
under ``/public-up`` with no dot segment, and never a client's forwarding claims.

``AIPROXY_FUZZ_EXAMPLES`` scales the run (default 2000, of which this file runs half).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiproxy_core import GatewayConfig
from aiproxy_sdk import LiveGateway, ServerThread

EXAMPLES = int(os.environ.get("AIPROXY_FUZZ_EXAMPLES", "2000")) // 2
BASE_DOMAIN = "gateway.test"
SUBDOMAIN = "fuzz"
HOST = f"{SUBDOMAIN}.{BASE_DOMAIN}"
#: A generous ceiling for one answer from loopback: a request still unanswered then is hanging.
SOCKET_TIMEOUT = 10.0
SPOOFED = "spoofed.evil.example"
MAX_BODY = 16 * 1024


@dataclass
class RecordingUpstream:
    """An upstream that answers every request 200 and records what it received."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False) and message["type"] == "http.request"
        with self.lock:
            self.seen.append(
                {"raw_path": scope["raw_path"], "query": scope["query_string"], "headers": [(k.lower(), v) for k, v in scope["headers"]]}
            )
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json"), (b"content-length", b"11")]})
        await send({"type": "http.response.body", "body": b'{"ok":true}'})

    def taken(self) -> list[dict[str, Any]]:
        with self.lock:
            seen, self.seen = self.seen, []
        return seen


@dataclass
class ProxyUnderTest:
    host: str
    port: int
    key: str
    upstream: RecordingUpstream


@pytest.fixture
def proxy_under_test(tmp_path: Path) -> Iterator[ProxyUnderTest]:
    upstream = RecordingUpstream()
    with ServerThread(upstream) as upstream_url:
        config = GatewayConfig.model_validate(
            {
                "server": {"base_domain": BASE_DOMAIN, "max_body_bytes": MAX_BODY},
                "storage": {"path": str(tmp_path / "aiproxy.db")},
                "upstream": {"allowed_networks": ["127.0.0.1/32"]},
            }
        )
        with LiveGateway(config) as live, httpx.Client(base_url=live.admin_url) as admin:
            tenant = admin.post("/api/v1/tenants", json={"name": "Fuzz", "subdomain": SUBDOMAIN})
            assert tenant.status_code == 201, tenant.text
            t = f"/api/v1/tenants/{tenant.json()['id']}"
            auth = {"Authorization": f"Bearer {tenant.json()['api_key']}"}
            public = admin.post(t + "/rules", headers=auth, json={"path": "/v1/public", "target": upstream_url + "/public-up", "strip_path": True})
            private = admin.post(t + "/rules", headers=auth, json={"path": "/v1/private", "target": upstream_url + "/private-up", "strip_path": True})
            assert public.status_code == private.status_code == 201, (public.text, private.text)
            key = admin.post(t + "/keys", headers=auth, json={"scopes": [public.json()["id"]]})
            assert key.status_code == 201, key.text
            proxy = urllib.parse.urlsplit(live.proxy_url)
            yield ProxyUnderTest(proxy.hostname or "", proxy.port or 0, key.json()["key"], upstream)


# --- generated requests -----------------------------------------------------------------------------

SEGMENTS = ["a"] * 12 + ["chat"] * 6 + [
    "chat", "completions", "", ".", "..", "%2e", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "..%2f", "%2f", "%2F", "%3f", "%3F",
    "%23", "%00", "%5c", "%5C", "\\", "..\\", "\\..", "%", "%zz", "%ff", "private", "v1", "..;", ";x=1", "ü", "%C3%BC",
    "\u202e", "x" * 300,
]
PREFIXES = ["/v1/public", "/v1/public", "/v1/public/", "/v1/public//", "//v1/public", "/V1/public", "/v1/public%2f..", "/v1/private", "/v1", "", "*"]
QUERIES = ["", "", "?a=b", "?", "?%00", "?a=%2e%2e/", "?#", "#frag", "?x=" + "y" * 2000]
METHODS = ["GET"] * 6 + ["POST"] * 6 + ["PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "get", "FOO", "M-SEARCH", "CONNECT", "TRACE", "X" * 100, "G\x00T"]
HOSTS: list[list[str]] = [[HOST]] * 16 + [
    [HOST + "."], [HOST.upper()], [HOST + ":80"], [HOST + ":65536"], [HOST + ":x"], [f"[{HOST}]"],
    [HOST, HOST], [HOST, "other.gateway.test"], [], ["other.gateway.test"], ["gateway.test"], [SPOOFED], [" " + HOST],
    ["a." + HOST], [HOST + "\t"], ["x" * 300 + "." + BASE_DOMAIN],
]
FORWARDING = [[]] * 8 + [
    [("X-Forwarded-For", "6.6.6.6")], [("X-Forwarded-Host", SPOOFED)], [("X-Forwarded-Proto", "https")],
    [("Forwarded", f"for=6.6.6.6;host={SPOOFED};proto=https")], [("X-Real-IP", "6.6.6.6")], [("Via", "1.1 other")],
    [("X-Forwarded-Host", SPOOFED), ("X-Forwarded-Host", SPOOFED + ".2")],
]
ODD_HEADERS = [[]] * 20 + [
    [("Expect", "100-continue")], [("Connection", "keep-alive, Upgrade"), ("Upgrade", "websocket")],
    [("X-Request-ID", "x" * 300)], [("X-Request-ID", "fuzz\x7f")], [("X-Big", "v" * 70_000)], [(f"X-H{i}", "v") for i in range(150)],
    [("X Bad Name", "v")], [("X-Folded", "a\r\n  b")], [("Content-Type", "application/json; charset=utf-16")],
    [("Authorization", "Bearer second-key")], [("Accept-Encoding", "gzip, br, zstd")],
]
BODIES = [
    b"", b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}', b"{", b"[" * 50_000, b'{"a": "\\ud800"}',
    b'{"model": "\\udfff"}', b"\xff\xfe\x00", b"NaN", b"x" * (MAX_BODY + 1), b"z" * 1000,
]


@dataclass(frozen=True)
class Framing:
    """How the body is delimited: ``length`` is the Content-Length header (None: none sent),
    ``chunks`` the chunk sizes as written (None: not chunked), ``encoding`` the Transfer-Encoding."""

    length: str | None
    chunk_size_format: str | None
    encoding: str | None


FRAMINGS = [Framing("exact", None, None)] * 12 + [Framing(None, None, None)] * 4 + [Framing(None, "{:x}", "chunked")] * 4 + [
    Framing(None, "{:X}", "chunked"), Framing(None, "{:08x}", "chunked"), Framing(None, "{:x};ext=1", "chunked"),
    Framing(None, "{:x} ", "chunked"), Framing(None, "-{:x}", "chunked"), Framing(None, "{:x}", "gzip, chunked"),
    Framing(None, "{:x}", "Chunked"), Framing("0", "{:x}", "chunked"), Framing("5", "{:x}", "chunked"),
    Framing("exact,exact", None, None), Framing("exact, 1", None, None), Framing("+{n}", None, None), Framing("-1", None, None),
    Framing("0x10", None, None), Framing("99999999999999999999", None, None), Framing("exact", None, "identity"),
]


@dataclass(frozen=True)
class RawRequest:
    method: str
    target: str
    version: str
    hosts: tuple[str, ...]
    key: str  # "scoped", "none" or "garbage"
    headers: tuple[tuple[str, str], ...]
    framing: Framing
    body: bytes
    chunk_split: int

    def encode(self, scoped_key: str) -> bytes:
        lines = [f"{self.method} {self.target} {self.version}"]
        lines += [f"Host: {host}" for host in self.hosts]
        if self.key != "none":
            lines.append("Authorization: Bearer " + (scoped_key if self.key == "scoped" else "aip_garbage"))
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines.append("Connection: close")
        body = self.body
        if self.framing.length is not None:
            lines.append("Content-Length: " + self.framing.length.replace("exact", str(len(body))).replace("{n}", str(len(body))))
        if self.framing.encoding is not None:
            lines.append(f"Transfer-Encoding: {self.framing.encoding}")
        if self.framing.chunk_size_format is not None:
            body = _chunked(body, self.framing.chunk_size_format, self.chunk_split)
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8", "surrogateescape") + body

    def __repr__(self) -> str:
        return f"RawRequest({self.encode('<key>')[:600]!r}, body {len(self.body)} bytes)"


def _chunked(body: bytes, size_format: str, split: int) -> bytes:
    pieces = [body[i : i + split] for i in range(0, len(body), split)] if body else []
    out = b"".join(size_format.format(len(p)).encode() + b"\r\n" + p + b"\r\n" for p in pieces)
    return out + b"0\r\n\r\n"


def targets() -> st.SearchStrategy[str]:
    segments = st.lists(st.sampled_from(SEGMENTS), max_size=5).map("/".join)
    joined = st.builds(lambda prefix, rest, query: f"{prefix}/{rest}{query}" if rest else prefix + query,
                       st.sampled_from(PREFIXES), segments, st.sampled_from(QUERIES))
    special = st.sampled_from([f"http://{HOST}/v1/public/a", f"http://{HOST}/v1/public/../private/a", "/v1/public/" + "a" * 70_000, "/v1/public/a b"])
    return st.one_of(joined, joined, joined, joined, joined, special)


def raw_requests() -> st.SearchStrategy[RawRequest]:
    return st.builds(
        RawRequest,
        method=st.sampled_from(METHODS),
        target=targets(),
        version=st.sampled_from(["HTTP/1.1"] * 30 + ["HTTP/1.0", "HTTP/2.0", "HTTP/1.1 ", "http/1.1"]),
        hosts=st.sampled_from(HOSTS).map(tuple),
        key=st.sampled_from(["scoped"] * 10 + ["none", "garbage"]),
        headers=st.builds(lambda a, b: tuple(a + b), st.sampled_from(FORWARDING), st.sampled_from(ODD_HEADERS)),
        framing=st.sampled_from(FRAMINGS),
        body=st.one_of(st.sampled_from(BODIES), st.binary(max_size=100)),
        chunk_split=st.sampled_from([1, 3, 7, 1000, 100_000]),
    )


# --- reading the answer -----------------------------------------------------------------------------


@dataclass
class Answer:
    status: int | None  # None: the connection was closed without an answer
    headers: list[tuple[str, str]]
    body: bytes


class Malformed(Exception):
    pass


_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3})(?: [^\r\n]*)?$")


def exchange(target: ProxyUnderTest, data: bytes, *, head: bool) -> Answer:
    """Send ``data`` on a fresh connection and read one answer (socket.timeout: it hangs)."""
    with socket.create_connection((target.host, target.port), timeout=SOCKET_TIMEOUT) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before all was read: the answer (or the close) is still to be read
        received = b""
        while True:
            try:
                piece = sock.recv(65536)
            except ConnectionResetError:
                break
            if not piece:
                break
            received += piece
    if not received:
        return Answer(None, [], b"")
    return parse_answer(received, head=head)


def parse_answer(data: bytes, *, head: bool) -> Answer:
    header_block, separator, rest = data.partition(b"\r\n\r\n")
    if not separator:
        raise Malformed(f"no end of headers in {data[:300]!r}")
    status_line, *header_lines = header_block.split(b"\r\n")
    match = _STATUS_LINE.match(status_line)
    if match is None:
        raise Malformed(f"bad status line {status_line[:200]!r}")
    headers = []
    for line in header_lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise Malformed(f"bad header line {line[:200]!r}")
        headers.append((name.decode("latin-1").lower(), value.strip().decode("latin-1")))
    status = int(match.group(1))
    if status == 100:  # an interim answer to Expect: 100-continue; the real one follows
        return parse_answer(rest, head=head)
    found = dict(headers)
    if head or status in (204, 304):
        body = b""
    elif found.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(rest)
    elif "content-length" in found:
        length = int(found["content-length"])
        if len(rest) < length:
            raise Malformed(f"body shorter ({len(rest)}) than its Content-Length {length}")
        body = rest[:length]
    else:
        body = rest
    return Answer(status, headers, body)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, separator, data = data.partition(b"\r\n")
        if not separator:
            raise Malformed("chunked answer cut off")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2 :]


# --- the test ---------------------------------------------------------------------------------------

_DOT_SEGMENTS = {".", ".."}


def upstream_problems(seen: list[dict[str, Any]]) -> list[str]:
    """What the upstream must never receive: a path outside the matched rule's, a dot segment in
    any spelling, or a client's forwarding claim."""
    problems = []
    for request in seen:
        raw = request["raw_path"]
        path = raw.decode("latin-1")
        if not (path == "/public-up" or path.startswith("/public-up/")):
            problems.append(f"the upstream received {path[:200]!r}, outside /public-up")
        segments = [urllib.parse.unquote(s) for s in path.split("/")]
        if _DOT_SEGMENTS & set(segments):
            problems.append(f"the upstream received a dot segment: {path[:200]!r}")
        for name, value in request["headers"]:
            if SPOOFED.encode() in value:
                problems.append(f"the upstream received the client's {name.decode()}: {value[:100]!r}")
    return problems


def test_proxy_parsing_survives_generated_raw_requests(
    proxy_under_test: ProxyUnderTest, fuzz_answer_problems: Callable[..., list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    target = proxy_under_test
    target.upstream.taken()
    caplog.set_level(logging.ERROR)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(request=raw_requests())
    def one_request(request: RawRequest) -> None:
        data = request.encode(target.key)
        try:
            answer = exchange(target, data, head=request.method == "HEAD")
        except socket.timeout:
            raise AssertionError(f"no answer and no close within {SOCKET_TIMEOUT} s: {request!r}") from None
        except Malformed as exc:
            raise AssertionError(f"malformed answer ({exc}): {request!r}") from None
        problems = upstream_problems(target.upstream.taken())
        # An exception that only reached the log (the client saw a close) is a failure too; it may
        # show up one request late, as the gateway logs after the connection is gone.
        problems += [f"the gateway logged {r.levelname} {r.getMessage()[:200]!r}" for r in caplog.records if r.levelno >= logging.ERROR]
        caplog.clear()
        if answer.status is not None:
            problems += fuzz_answer_problems(answer.status, answer.body, has_body=request.method != "HEAD")
        assert not problems, f"{problems}: {request!r} -> {answer.status} {answer.body[:400]!r}"

    one_request()
