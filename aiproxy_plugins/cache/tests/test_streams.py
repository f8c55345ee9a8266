"""Streamed and plain requests share one cache: each is served from the other's answer."""

from __future__ import annotations

from typing import Any, Callable

CUT_STREAM = "x-test-cut-stream"


async def test_a_streamed_request_is_served_from_a_plain_answer(
    cached_gateway: Any, upstream: Any, sse_answer: Callable[[str], dict[str, Any]]
) -> None:
    gw = await cached_gateway()
    plain = (await gw.chat("Stream me later")).json()
    before = upstream.chat_calls
    streamed = await gw.chat("Stream me later", stream=True)
    assert streamed.status_code == 200
    assert streamed.headers["x-cache"] == "HIT"
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert upstream.chat_calls == before
    answer = sse_answer(streamed.text)
    assert answer == {
        "content": plain["choices"][0]["message"]["content"],
        "finish_reason": "stop",
        "usage": plain["usage"],
        "done": True,
    }


async def test_a_plain_request_is_served_from_a_streamed_answer(
    cached_gateway: Any, upstream: Any, sse_answer: Callable[[str], dict[str, Any]]
) -> None:
    gw = await cached_gateway()
    first = await gw.chat("Plain me later", stream=True, stream_options={"include_usage": True})
    assert first.headers["x-cache"] == "MISS"
    streamed = sse_answer(first.text)
    before = upstream.chat_calls
    plain = await gw.chat("Plain me later")
    assert plain.headers["x-cache"] == "HIT"
    assert plain.headers["content-type"] == "application/json"
    assert upstream.chat_calls == before
    body = plain.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == streamed["content"] == "You said: Plain me later"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == streamed["usage"]
    again = await gw.chat("Plain me later", stream=True)
    assert again.headers["x-cache"] == "HIT"
    assert sse_answer(again.text) == {**streamed, "done": True}


async def test_a_truncated_answer_is_cached_with_its_finish_reason(
    cached_gateway: Any, sse_answer: Callable[[str], dict[str, Any]]
) -> None:
    gw = await cached_gateway()
    await gw.chat("one two three four five", stream=True, max_tokens=3)
    cached = await gw.chat("one two three four five", max_tokens=3)
    assert cached.headers["x-cache"] == "HIT"
    assert cached.json()["choices"][0]["finish_reason"] == "length"
    assert cached.json()["choices"][0]["message"]["content"] == "You said: one"


async def test_a_stream_cut_before_its_end_is_not_cached(
    cached_gateway: Any, upstream: Any, sse_answer: Callable[[str], dict[str, Any]]
) -> None:
    gw = await cached_gateway()
    cut = await gw.chat("Cut me", stream=True, headers={CUT_STREAM: "1"})
    assert cut.status_code == 200
    assert sse_answer(cut.text)["done"] is False
    before = upstream.chat_calls
    assert (await gw.chat("Cut me", stream=True)).headers["x-cache"] == "MISS"
    assert upstream.chat_calls == before + 1
    assert (await gw.chat("Cut me")).headers["x-cache"] == "HIT"


async def test_a_streamed_error_is_not_cached(cached_gateway: Any) -> None:
    gw = await cached_gateway()
    failed = await gw.chat("Failing stream", stream=True, headers={"X-Mock-Status": "503"})
    assert (failed.status_code, failed.headers["x-cache"]) == (503, "MISS")
    assert (await gw.chat("Failing stream", stream=True)).headers["x-cache"] == "MISS"
