"""The upstream client (``Http1UpstreamClient``) against real TCP servers that misbehave on purpose.

Each test's upstream is an asyncio server on loopback whose answers are scripted byte for byte,
so what the client must survive (a closed keep-alive connection, a stall, garbage, a smuggling
attempt) is exactly what the upstream sends. The gateway-level behaviour (502/504 envelopes,
disconnects, streaming through the chain) is in tests/test_proxy.py and friends.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Awaitable, Callable

import pytest
import trustme

from aiproxy_core.config import UpstreamConfig
from aiproxy_core.errors import GatewayError, UpstreamTimeout, UpstreamUnreachable
from aiproxy_core.upstream import Http1UpstreamClient, TargetPolicy

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class Upstream:
    """A loopback server; ``answer(request_number, head, body, writer)`` writes each answer."""

    def __init__(self, answer: Callable[[int, bytes, bytes, asyncio.StreamWriter], Awaitable[None]]) -> None:
        self.answer = answer
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.requests: list[tuple[bytes, bytes]] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> "Upstream":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=getattr(self, "tls", None))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.requests.append((head, body))
                await self.answer(len(self.requests), head, body, writer)
                if writer.is_closing():
                    return
        finally:
            self.open -= 1
            writer.close()


async def answer_ok(number: int, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
    writer.write(OK)


def answer_then_close(raw: bytes) -> Callable[[int, bytes, bytes, asyncio.StreamWriter], Awaitable[None]]:
    """An upstream that writes ``raw`` to every request, then closes the connection."""

    async def answer(number: int, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()
        writer.close()

    return answer


async def trickle(writer: asyncio.StreamWriter, count: int) -> None:
    """A chunked answer's head, then ``count`` one-byte chunks 0.1 s apart (the last chunk is the caller's)."""
    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    for _ in range(count):
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"1\r\nx\r\n")


def client_for(**config: object) -> Http1UpstreamClient:
    return Http1UpstreamClient(UpstreamConfig(**config), TargetPolicy(["127.0.0.1/32"]))


@pytest.fixture
async def client():
    made = client_for(read_timeout=5)
    await made.start()
    yield made
    await made.close()


async def test_a_connection_is_kept_alive_and_reused(client):
    async with Upstream(answer_ok) as upstream:
        for _ in range(5):
            response = await client.send("POST", f"http://127.0.0.1:{upstream.port}/v1/chat", [("content-type", "application/json")], b"{}")
            assert (response.status, await response.read()) == (200, b"{}")
            assert response.content_length == 2 and response.content_type == "application/json"
    assert upstream.connections == 1 and len(upstream.requests) == 5


async def test_the_request_head_is_what_the_upstream_expects(client):
    async with Upstream(answer_ok) as upstream:
        url = f"http://127.0.0.1:{upstream.port}/v1/chat?x=1#fragment"
        headers = [("x-one", "1"), ("Content-Length", "999"), ("transfer-encoding", "chunked")]
        await (await client.send("POST", url, headers, b"hello")).read()
        await (await client.send("GET", f"http://127.0.0.1:{upstream.port}", [], b"")).read()
    head, body = upstream.requests[0]
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat?x=1 HTTP/1.1"  # no fragment
    assert lines[1] == f"host: 127.0.0.1:{upstream.port}"
    # The caller's framing headers are dropped: the body's own length is the only one.
    assert [line for line in lines if line.lower().startswith(("content-length", "transfer-encoding"))] == ["content-length: 5"]
    assert "x-one: 1" in lines and body == b"hello"
    assert upstream.requests[1][0].startswith(b"GET / HTTP/1.1\r\n") and b"content-length" not in upstream.requests[1][0]


@pytest.mark.parametrize(
    "headers, target",
    [
        ([("x-evil", "1\r\nx-injected: yes")], "/v1"),
        ([("x-evil\r\nx-injected", "yes")], "/v1"),
        ([("x-evil", "1\nGET /admin HTTP/1.1")], "/v1"),
        ([], "/v1 HTTP/1.1\r\nx-injected: yes"),
        ([], "/v1%20ok HTTP/1.0"),
    ],
)
async def test_a_line_break_or_space_cannot_add_headers_or_requests(client, headers, target):
    async with Upstream(answer_ok) as upstream:
        with pytest.raises(GatewayError) as refused:
            await client.send("POST", f"http://127.0.0.1:{upstream.port}{target}", headers, b"{}")
        assert refused.value.code == "invalid_upstream_request" and refused.value.status == 502
        await asyncio.sleep(0.05)
    assert upstream.requests == []


async def test_a_chunked_answer_is_read_whole_and_streamed_in_order(client):
    async def chunked(number: int, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        for part in (b"data: 1\n\n", b"data: 2\n\n", b"data: [DONE]\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")

    async with Upstream(chunked) as upstream:
        url = f"http://127.0.0.1:{upstream.port}/"
        whole = await (await client.send("GET", url, [], b"")).read()
        response = await client.send("GET", url, [], b"")
        assert response.content_length is None and response.content_type == "text/event-stream"
        parts = [chunk async for chunk in response.iter_chunks()]
    assert whole == b"data: 1\n\ndata: 2\n\ndata: [DONE]\n\n"
    assert b"".join(parts) == whole and len(parts) >= 3  # each arrived as it was sent
    assert upstream.connections == 1


async def test_connection_close_and_a_body_ended_by_closing(client):
    async with Upstream(answer_then_close(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it, then the end")) as upstream:
        for _ in range(2):
            response = await client.send("GET", f"http://127.0.0.1:{upstream.port}/", [], b"")
            assert await response.read() == b"all of it, then the end"
    assert upstream.connections == 2


async def test_an_idle_connection_the_upstream_closed_is_not_used(client):
    # Keep-alive promised, then the upstream closes the connection while it sits idle.
    async with Upstream(answer_then_close(OK)) as upstream:
        for _ in range(3):
            await (await client.send("POST", f"http://127.0.0.1:{upstream.port}/", [], b"{}")).read()
            await asyncio.sleep(0.05)
    assert upstream.connections == 3 and len(upstream.requests) == 3


async def test_a_reused_connection_closed_unanswered_is_retried_once_on_a_new_one(client):
    async def drop_second_on_first_connection(number: int, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        if number == 2:
            writer.close()  # the race: the upstream closed the idle connection as the request came
        else:
            writer.write(OK)

    async with Upstream(drop_second_on_first_connection) as upstream:
        url = f"http://127.0.0.1:{upstream.port}/"
        await (await client.send("POST", url, [], b"{}")).read()
        response = await client.send("POST", url, [], b"{}")
        assert await response.read() == b"{}"
    assert upstream.connections == 2 and len(upstream.requests) == 3


async def test_a_new_connection_closed_unanswered_is_not_retried(client):
    async def drop(number: int, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with Upstream(drop) as upstream:
        with pytest.raises(UpstreamUnreachable) as failed:
            await client.send("POST", f"http://127.0.0.1:{upstream.port}/", [], b"{}")
    assert len(upstream.requests) == 1
    assert failed.value.message == "the upstream of this route is unreachable"
    assert failed.value.log_detail.startswith(f"http://127.0.0.1:{upstream.port}: ConnectionResetError")


async def test_an_answer_cut_off_mid_body_fails_the_read(client):
    async with Upstream(answer_then_close(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")) as upstream:
        response = await client.send("GET", f"http://127.0.0.1:{upstream.port}/", [], b"")
        with pytest.raises(UpstreamUnreachable):
            await response.read()


async def test_garbage_is_not_an_answer(client):
    async def garbage(number: int, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")

    async with Upstream(garbage) as upstream:
        with pytest.raises(UpstreamUnreachable) as failed:
            await client.send("GET", f"http://127.0.0.1:{upstream.port}/", [], b"")
    assert "not valid HTTP/1.1" in failed.value.log_detail


async def stall_or_trickle(number: int, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
    if b"/stall-head" in head:
        await asyncio.sleep(1)
        return
    await trickle(writer, 8)  # 0.8 s in all, never 0.3 s without a byte
    if b"/stall-body" in head:
        await asyncio.sleep(1)
        return
    writer.write(b"0\r\n\r\n")


async def test_read_timeout_is_the_longest_silence_not_the_whole_answer():
    client = client_for(read_timeout=0.3)
    await client.start()

    try:
        async with Upstream(stall_or_trickle) as upstream:
            base = f"http://127.0.0.1:{upstream.port}"
            assert await (await client.send("GET", f"{base}/trickle", [], b"")).read() == b"x" * 8
            with pytest.raises(UpstreamTimeout):
                await client.send("GET", f"{base}/stall-head", [], b"")
            response = await client.send("GET", f"{base}/stall-body", [], b"")
            with pytest.raises(UpstreamTimeout) as timed_out:
                await response.read()
            assert timed_out.value.status == 504
            # A rule's own timeout wins over the config's.
            assert await (await client.send("GET", f"{base}/trickle", [], b"", read_timeout=5)).read() == b"x" * 8
    finally:
        await client.close()


async def test_each_request_on_a_reused_connection_keeps_its_own_read_timeout():
    """The connection's timer outlives an exchange: a later request with a shorter timeout is not
    given the earlier one's, and an earlier short timer firing while the connection sat idle (or
    during a later, longer request) fails nothing."""
    client = client_for(read_timeout=5)
    await client.start()

    try:
        async with Upstream(stall_or_trickle) as upstream:
            base = f"http://127.0.0.1:{upstream.port}"
            # A long timeout first, then a short one that stalls: it fails by its own, long before 5 s.
            assert await (await client.send("GET", f"{base}/trickle", [], b"", read_timeout=5)).read() == b"x" * 8
            async with asyncio.timeout(1.5):
                with pytest.raises(UpstreamTimeout):
                    await client.send("GET", f"{base}/stall-head", [], b"", read_timeout=0.3)
            assert upstream.connections == 1  # the same connection
            # A short timeout first, then idle past it, then a long trickle: nothing fails.
            assert await (await client.send("GET", f"{base}/trickle", [], b"", read_timeout=0.2)).read() == b"x" * 8
            await asyncio.sleep(0.4)
            assert await (await client.send("GET", f"{base}/trickle", [], b"", read_timeout=0.25)).read() == b"x" * 8
            assert upstream.connections == 2  # the timed-out one was closed; the rest went on one
    finally:
        await client.close()


async def test_max_connections_bounds_the_open_connections():
    client = client_for(max_connections=2, connect_timeout=5)
    await client.start()

    async def slow(number: int, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.1)
        writer.write(OK)

    async def one(url: str) -> bytes:
        return await (await client.send("GET", url, [], b"")).read()

    try:
        async with Upstream(slow) as first, Upstream(slow) as second:
            urls = [f"http://127.0.0.1:{up.port}/" for up in (first, second)] * 4
            assert await asyncio.gather(*(one(url) for url in urls)) == [b"{}"] * 8
        assert first.most_open + second.most_open <= 3  # two at a time, one closing as the next opens
        assert max(first.most_open, second.most_open) <= 2
    finally:
        await client.close()


async def test_a_cancelled_request_does_not_leave_its_connection_in_the_pool(client):
    async def slow_body(number: int, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab")
        await writer.drain()
        if number == 1:
            await asyncio.sleep(0.5)
        writer.write(b"cd")

    async with Upstream(slow_body) as upstream:
        url = f"http://127.0.0.1:{upstream.port}/"
        response = await client.send("GET", url, [], b"")
        reading = asyncio.ensure_future(response.read())
        await asyncio.sleep(0.05)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        # The half-read connection is closed; the next request gets a clean one and its own answer.
        assert await (await client.send("GET", url, [], b"")).read() == b"abcd"
    assert upstream.connections == 2


async def test_head_answers_have_no_body_and_informational_answers_are_skipped(client):
    async def answer(number: int, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        if head.startswith(b"HEAD"):
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>\r\n\r\n" + OK)

    async with Upstream(answer) as upstream:
        url = f"http://127.0.0.1:{upstream.port}/"
        response = await client.send("HEAD", url, [], b"")
        assert response.status == 200 and await response.read() == b""
        response = await client.send("GET", url, [], b"")
        assert response.status == 200 and await response.read() == b"{}"
        assert [name for name, _ in response.raw_headers] == [b"content-type", b"content-length"]


async def test_a_large_body_streamed_to_a_slow_reader_arrives_whole(client):
    payload = bytes(range(256)) * 8192  # 2 MiB

    async def big(number: int, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(payload))
        writer.write(payload)
        await writer.drain()

    async with Upstream(big) as upstream:
        response = await client.send("GET", f"http://127.0.0.1:{upstream.port}/", [], b"")
        received = bytearray()
        async for chunk in response.iter_chunks():
            received += chunk
            await asyncio.sleep(0.001)
    assert bytes(received) == payload


async def test_https_upstreams_are_verified():
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)

    class Localhost:  # the certificate names "localhost"; the policy judges what it resolves to
        async def resolve(self, host: str, port: int) -> list[str]:
            return ["127.0.0.1"]

    upstream = Upstream(answer_ok)
    upstream.tls = server_context  # type: ignore[attr-defined]
    async with upstream:
        url = f"https://localhost:{upstream.port}/v1"
        config = UpstreamConfig(connect_timeout=5)
        client = Http1UpstreamClient(config, TargetPolicy(["127.0.0.1/32"]), dns=Localhost(), ssl_context=trusting)
        await client.start()
        try:
            assert await (await client.send("GET", url, [], b"")).read() == b"{}"
        finally:
            await client.close()
        # The system's CAs do not know this one: refused, and the consumer is told nothing more.
        client = Http1UpstreamClient(config, TargetPolicy(["127.0.0.1/32"]), dns=Localhost())
        await client.start()
        try:
            with pytest.raises(UpstreamUnreachable) as refused:
                await client.send("GET", url, [], b"")
        finally:
            await client.close()
    assert "CERTIFICATE_VERIFY_FAILED" in refused.value.log_detail
    assert refused.value.message == "the upstream of this route is unreachable"
    assert upstream.requests[0][0].split(b"\r\n")[1] == f"host: localhost:{upstream.port}".encode()


async def test_closing_the_client_closes_busy_connections_too():
    """A stream nobody read to its end must not keep its connection (and the upstream's graceful
    shutdown, which waits for open requests) alive after the gateway stops."""
    client = client_for(read_timeout=30)
    await client.start()

    async def endless(number: int, head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        try:
            for _ in range(1500):  # a byte every 20 ms until the gateway's side is gone (30 s at most)
                await writer.drain()
                await asyncio.sleep(0.02)
                writer.write(b"1\r\n.\r\n")
        except ConnectionError:
            pass

    async with Upstream(endless) as upstream:
        response = await client.send("GET", f"http://127.0.0.1:{upstream.port}/", [], b"")
        chunks = response.iter_chunks()
        assert await chunks.__anext__() == b"first"
        await client.close()  # the stream is left unread, as a crashed plugin might leave it
        for _ in range(250):
            if upstream.open == 0:
                break
            await asyncio.sleep(0.02)
        assert upstream.open == 0
