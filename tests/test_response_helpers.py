"""ProxyResponse helpers hooks share: is_event_stream and read_whole."""

from __future__ import annotations

from aiproxy_core import ProxyResponse


async def _chunks(*parts: bytes):  # type: ignore[no-untyped-def]
    for part in parts:
        yield part


def test_is_event_stream_reads_the_content_type_in_any_case():
    assert ProxyResponse(200, {"content-type": "Text/Event-Stream; charset=utf-8"}).is_event_stream
    assert not ProxyResponse(200, {"content-type": "application/json"}).is_event_stream
    assert not ProxyResponse(200).is_event_stream


async def test_read_whole_holds_a_stream_up_to_the_limit():
    streamed = ProxyResponse(201, {"x-a": "1"}, stream=_chunks(b"abc", b"def"))
    whole = await streamed.read_whole(6)
    assert whole is not None and (whole.status, whole.body, whole.headers["x-a"], whole.stream) == (201, b"abcdef", "1", None)
    assert await ProxyResponse(200, stream=_chunks(b"abc", b"defg")).read_whole(6) is None
    plain = ProxyResponse(200, body=b"already whole")
    assert await plain.read_whole(13) is plain  # nothing to read: the same response
    assert await plain.read_whole(12) is None
