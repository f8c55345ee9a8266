"""The stream translators on their own: every cut of a real upstream stream gives the same answer,
malformed and unfinished streams are never shown as complete, and what the official SDKs
accumulate from the output is right (parallel tool calls, text then tools, usage, errors)."""

from __future__ import annotations

import json
import re
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pydantic
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk, ParsedChatCompletion

from aiproxy_core.mock_upstream import create_mock_upstream
from aiproxy_core.translation import AnthropicToOpenAIStream, OpenAIToAnthropicStream

EVENT = pydantic.TypeAdapter(RawMessageStreamEvent)
TOOLS_OPENAI = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
TOOLS_ANTHROPIC = [{"name": "lookup", "input_schema": {"type": "object"}}]


async def upstream_stream(path: str, body: dict[str, Any]) -> bytes:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_mock_upstream()), base_url="http://mock") as client:
        response = await client.post(path, json={**body, "stream": True})
        assert response.status_code == 200
        return response.content


def data_lines(stream: bytes) -> list[str]:
    return [line[6:] for line in stream.decode().split("\n") if line.startswith("data: ")]


def anthropic_events(stream: bytes) -> list[dict[str, Any]]:
    """The events, each checked against the SDK's types and named by its ``event:`` line."""
    events = []
    for block in stream.decode().split("\n\n"):
        if not block:
            continue
        name_line, data_line = block.split("\n")
        event = json.loads(data_line.removeprefix("data: "))
        assert name_line == f"event: {event['type']}"
        if event["type"] != "error":
            EVENT.validate_python(event)
        events.append(event)
    return events


def openai_chunks(stream: bytes) -> list[dict[str, Any]]:
    chunks = [json.loads(data) for data in data_lines(stream) if data != "[DONE]"]
    for chunk in chunks:
        if "error" not in chunk:
            ChatCompletionChunk.model_validate(chunk)
    return chunks


async def anthropic_final(stream: bytes) -> Message:
    """What the anthropic SDK's stream helper makes of ``stream``."""
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=stream, headers={"content-type": "text/event-stream"}))
    client = anthropic.AsyncAnthropic(base_url="http://x", api_key="x", max_retries=0, http_client=httpx2.AsyncClient(transport=transport))
    async with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as events:
        return await events.get_final_message()


def openai_final(stream: bytes) -> ParsedChatCompletion[Any]:
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in openai_chunks(stream):
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    return state.get_final_completion()


def without_created(stream: bytes) -> bytes:
    return re.sub(rb'"created":\d+', b'"created":0', stream)


def translate_openai(body: bytes, *cuts: int, include_usage: bool = True) -> bytes:
    translator = AnthropicToOpenAIStream("gpt-x", include_usage)
    edges = [0, *cuts, len(body)]
    out = b"".join(translator.feed(body[a:b]) for a, b in zip(edges, edges[1:]))
    return without_created(out + translator.finish())


def translate_anthropic(body: bytes, *cuts: int) -> bytes:
    translator = OpenAIToAnthropicStream(None)
    edges = [0, *cuts, len(body)]
    return b"".join(translator.feed(body[a:b]) for a, b in zip(edges, edges[1:])) + translator.finish()


# -- every cut of a real stream ------------------------------------------------------------------


@pytest.mark.parametrize("tools", [False, True])
async def test_anthropic_stream_cut_at_every_byte_translates_the_same(tools: bool) -> None:
    body = await upstream_stream("/v1/messages", {"model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": "weather in Oslo ✓"}], **({"tools": TOOLS_ANTHROPIC} if tools else {})})
    reference = translate_openai(body)
    assert all(translate_openai(body, cut) == reference for cut in range(1, len(body)))
    final = openai_final(reference)
    if tools:
        (call,) = final.choices[0].message.tool_calls or []
        assert (call.function.name, json.loads(call.function.arguments), final.choices[0].finish_reason) == ("lookup", {"query": "weather in Oslo ✓"}, "tool_calls")
    else:
        assert (final.choices[0].message.content, final.choices[0].finish_reason) == ("You said: weather in Oslo ✓", "stop")
    assert final.usage is not None and final.usage.prompt_tokens == 4


@pytest.mark.parametrize("tools", [False, True])
async def test_openai_stream_cut_at_every_byte_translates_the_same(tools: bool) -> None:
    body = await upstream_stream("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "weather in Oslo ✓"}], "stream_options": {"include_usage": True}, **({"tools": TOOLS_OPENAI} if tools else {})})
    reference = translate_anthropic(body)
    assert all(translate_anthropic(body, cut) == reference for cut in range(1, len(body)))
    assert all(translate_anthropic(body, cut, cut + 7) == reference for cut in range(1, len(body) - 7, 5))
    final = await anthropic_final(reference)
    anthropic_events(reference)
    if tools:
        (block,) = final.content
        assert block.type == "tool_use" and block.name == "lookup" and block.input == {"query": "weather in Oslo ✓"}
        assert final.stop_reason == "tool_use"
    else:
        assert final.content[0].type == "text" and final.content[0].text == "You said: weather in Oslo ✓"
        assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == 4


# -- Anthropic upstream, OpenAI client ---------------------------------------------------------


def anthropic_sse(*events: dict[str, Any], newline: str = "\n") -> bytes:
    return "".join(f"event: {e['type']}{newline}data: {json.dumps(e, ensure_ascii=False)}{newline}{newline}" for e in events).encode()


START = {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [], "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 2, "output_tokens": 1}}}


def text_block(index: int, *pieces: str) -> list[dict[str, Any]]:
    return [
        {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}} for piece in pieces),
        {"type": "content_block_stop", "index": index},
    ]


def tool_block(index: int, call_id: str, name: str, *fragments: str) -> list[dict[str, Any]]:
    return [
        {"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}}},
        *({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": f}} for f in fragments),
        {"type": "content_block_stop", "index": index},
    ]


def ending(stop_reason: str = "end_turn", output_tokens: int = 7) -> list[dict[str, Any]]:
    return [{"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None}, "usage": {"output_tokens": output_tokens}}, {"type": "message_stop"}]


def test_text_thinking_and_parallel_tool_calls_to_openai() -> None:
    events: list[dict[str, Any]] = [
        START,
        {"type": "ping"},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
        {"type": "content_block_stop", "index": 0},
        *text_block(1, "Let me ", "check."),
        *tool_block(2, "toolu_a", "lookup", '{"q":', '"a"}'),
        *tool_block(3, "toolu_b", "weather", '{"city":"Oslo"}'),
        *ending("tool_use"),
    ]
    stream = AnthropicToOpenAIStream(None, include_usage=True)
    out = stream.feed(anthropic_sse(*events, newline="\r\n")) + stream.finish()
    chunks = openai_chunks(out)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""} and chunks[0]["model"] == "claude"
    assert chunks[-1] == {**chunks[-1], "choices": [], "usage": {"prompt_tokens": 17, "completion_tokens": 7, "total_tokens": 24, "prompt_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 2}}}
    final = openai_final(out)
    message = final.choices[0].message
    assert message.content == "Let me check." and final.choices[0].finish_reason == "tool_calls"
    calls = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]
    assert calls == [("toolu_a", "lookup", {"q": "a"}), ("toolu_b", "weather", {"city": "Oslo"})]
    assert out.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize("stop_reason, finish", [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"), ("refusal", "content_filter"), ("pause_turn", "stop"), ("something_new", "stop")])
def test_stop_reasons_to_openai(stop_reason: str, finish: str) -> None:
    stream = AnthropicToOpenAIStream("gpt", include_usage=False)
    chunks = openai_chunks(stream.feed(anthropic_sse(START, *text_block(0, "hi"), *ending(stop_reason))))
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]] == [finish]
    assert all("usage" not in c for c in chunks)


def test_anthropic_error_event_is_an_openai_error_and_no_done() -> None:
    stream = AnthropicToOpenAIStream(None, include_usage=True)
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    out = stream.feed(anthropic_sse(START, *text_block(0, "partial"), error, *ending()))
    assert json.loads(data_lines(out)[-1]) == {"error": {"message": "Overloaded", "type": "server_error", "param": None, "code": "overloaded_error"}}
    assert stream.finish() == b""
    with pytest.raises(openai.APIError, match="Overloaded"):
        client = openai.OpenAI(base_url="http://x", api_key="x", http_client=httpx2.Client(transport=httpx2.MockTransport(lambda r: httpx2.Response(200, content=out, headers={"content-type": "text/event-stream"}))))
        list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True))


@pytest.mark.parametrize("keep", range(0, 7))
def test_a_cut_anthropic_stream_never_ends_with_done(keep: int) -> None:
    events = [START, *text_block(0, "a", "b"), *ending()]
    assert events[6]["type"] == "message_stop"
    body = anthropic_sse(*events[:keep]) + b"event: message_stop\ndata: {\"type\": \"mess"
    stream = AnthropicToOpenAIStream(None, include_usage=True)
    out = stream.feed(body)
    assert stream.finish() == b"" and b"[DONE]" not in out


def test_a_multibyte_character_split_across_chunks() -> None:
    body = anthropic_sse(START, *text_block(0, "héllo ✓ 日本"), *ending())
    split = body.index("✓".encode()) + 1
    stream = AnthropicToOpenAIStream(None, include_usage=False)
    out = stream.feed(body[:split]) + stream.feed(body[split:]) + stream.finish()
    assert openai_final(out).choices[0].message.content == "héllo ✓ 日本"


def test_events_after_message_stop_are_ignored() -> None:
    stream = AnthropicToOpenAIStream(None, include_usage=False)
    out = stream.feed(anthropic_sse(START, *text_block(0, "a"), *ending(), *text_block(1, "late")))
    assert b"late" not in out and stream.finish() == b"data: [DONE]\n\n"


def test_a_stream_without_message_start_still_starts_with_the_role() -> None:
    stream = AnthropicToOpenAIStream("gpt", include_usage=False)
    out = stream.feed(anthropic_sse(*text_block(0, "hi"), *ending())) + stream.finish()
    assert openai_final(out).choices[0].message.content == "hi"


# -- OpenAI upstream, Anthropic client ---------------------------------------------------------


def openai_sse(*chunks: dict[str, Any], done: bool = True) -> bytes:
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
    return (body + ("data: [DONE]\n\n" if done else "")).encode()


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt", "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        out["usage"] = usage
    return out


async def test_text_then_parallel_tool_calls_to_anthropic() -> None:
    body = openai_sse(
        chunk({"role": "assistant", "content": "Let me "}),
        chunk({"content": "check."}),
        chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "lookup", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q":"a"}'}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "weather", "arguments": '{"city":'}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": '"Oslo"}'}}]}),
        chunk({}, "tool_calls"),
        chunk(None, usage={"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29, "prompt_tokens_details": {"cached_tokens": 8}}),
    )
    stream = OpenAIToAnthropicStream("claude-alias")
    out = stream.feed(body) + stream.finish()
    events = anthropic_events(out)
    assert [e["type"] for e in events] == [
        "message_start",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]
    assert events[-2]["usage"] == {"input_tokens": 12, "output_tokens": 9, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 8}
    final = await anthropic_final(out)
    assert final.model == "claude-alias" and final.id == "msg_chatcmpl-1" and final.stop_reason == "tool_use"
    assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
    assert final.content[0].type == "text" and final.content[0].text == "Let me check."
    assert [(b.id, b.name, b.input) for b in final.content[1:] if b.type == "tool_use"] == [("call_a", "lookup", {"q": "a"}), ("call_b", "weather", {"city": "Oslo"})]
    assert (final.usage.input_tokens, final.usage.cache_read_input_tokens, final.usage.output_tokens) == (12, 8, 9)


@pytest.mark.parametrize("finish, stop_reason", [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal"), (None, "end_turn")])
def test_finish_reasons_to_anthropic(finish: str | None, stop_reason: str) -> None:
    stream = OpenAIToAnthropicStream(None)
    events = anthropic_events(stream.feed(openai_sse(chunk({"content": "hi"}), chunk({}, finish))))
    assert events[-2]["delta"]["stop_reason"] == stop_reason and events[-1]["type"] == "message_stop"


@pytest.mark.parametrize("keep", range(0, 4))
async def test_a_cut_openai_stream_ends_in_an_error_never_message_stop(keep: int) -> None:
    chunks = [chunk({"role": "assistant", "content": "a"}), chunk({"content": "b"}), chunk({}, "stop"), chunk(None, usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})]
    stream = OpenAIToAnthropicStream(None)
    out = stream.feed(openai_sse(*chunks[:keep], done=False) + b"data: [DO") + stream.finish()
    events = anthropic_events(out)
    assert events[-1] == {"type": "error", "error": {"type": "api_error", "message": "the upstream cut the stream off before it finished; the answer is incomplete"}}
    assert "message_stop" not in [e["type"] for e in events]
    assert stream.finish() == b""
    with pytest.raises(anthropic.APIStatusError, match="cut the stream off"):
        await anthropic_final(out)


def test_an_openai_error_event_is_an_anthropic_error() -> None:
    stream = OpenAIToAnthropicStream(None)
    out = stream.feed(openai_sse(chunk({"content": "a"}), {"error": {"message": "Rate limit reached", "type": "tokens", "code": "rate_limit_exceeded"}}, done=False))
    assert anthropic_events(out)[-1] == {"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limit reached"}}
    assert stream.finish() == b""


def test_done_alone_is_a_whole_empty_message() -> None:
    stream = OpenAIToAnthropicStream("m")
    events = anthropic_events(stream.feed(b"data: [DONE]\n\n") + stream.finish())
    assert [e["type"] for e in events] == ["message_start", "message_delta", "message_stop"]


def test_comments_garbage_and_other_choices_are_skipped() -> None:
    body = b": keep-alive\n\ndata: not json\n\ndata: [1, 2]\n\n" + openai_sse(
        {**chunk({"content": "mine"}), "choices": [{"index": 1, "delta": {"content": "other"}}, {"index": 0, "delta": {"content": "mine"}}]},
        chunk({"refusal": " no"}, "content_filter"),
    )
    stream = OpenAIToAnthropicStream(None)
    events = anthropic_events(stream.feed(body) + stream.finish())
    texts = [e["delta"]["text"] for e in events if e["type"] == "content_block_delta"]
    assert texts == ["mine", " no"] and events[-2]["delta"]["stop_reason"] == "refusal"
