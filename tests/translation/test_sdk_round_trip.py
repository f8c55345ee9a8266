"""The official ``openai`` and ``anthropic`` clients talk, through the translators, to the mock
upstream speaking the other API: what they parse and accumulate (plain answers, streams, tool use,
errors) is what the upstream said.

A small httpx transport stands in for the gateway: it translates the client's request, sends it to
the mock in-process, and translates the answer (a stream fed to the translator in cuts chosen by
the test: whole, one byte at a time, or uneven).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pydantic
import pytest
from anthropic.types import RawMessageStreamEvent
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from aiproxy_core.mock_upstream import create_mock_upstream
from aiproxy_core.translation import (
    AnthropicToOpenAIStream,
    OpenAIToAnthropicStream,
    anthropic_error_body,
    anthropic_request,
    anthropic_response,
    openai_error_body,
    openai_request,
    openai_response,
)

Cutter = Callable[[bytes], list[bytes]]
EVENT = pydantic.TypeAdapter(RawMessageStreamEvent)


def whole(body: bytes) -> list[bytes]:
    return [body]


def bytewise(body: bytes) -> list[bytes]:
    return [body[i : i + 1] for i in range(len(body))]


def uneven(body: bytes) -> list[bytes]:
    cuts, start, size = [], 0, 1
    while start < len(body):
        cuts.append(body[start : start + size])
        start, size = start + size, size % 13 + 2
    return cuts


class Gateway(httpx2.AsyncBaseTransport):
    """Translate a request for the mock's other API, and its answer back."""

    def __init__(self, client_speaks: str, cut: Cutter = whole, *, keep_events: int | None = None) -> None:
        self.client_speaks = client_speaks
        self.cut = cut
        #: Pass on only this many events of an upstream stream: an upstream that died mid-answer
        #: (the mock's X-Mock-Fault does that over a socket, which httpx's ASGITransport refuses).
        self.keep_events = keep_events
        self.sent: list[dict[str, Any]] = []
        self.answers: list[bytes] = []
        self.mock = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_mock_upstream()), base_url="http://mock")

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(await request.aread())
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-mock-")}
        if self.client_speaks == "openai":
            sent, path = anthropic_request(body, model="claude-mock"), "/v1/messages"
        else:
            sent, path = openai_request(body, model="gpt-mock"), "/v1/chat/completions"
        self.sent.append(sent)
        upstream = await self.mock.post(path, json=sent, headers=headers)
        status, raw = upstream.status_code, upstream.content
        if status >= 400:
            out = openai_error_body(status, raw) if self.client_speaks == "openai" else anthropic_error_body(status, raw)
            return httpx2.Response(status, content=out, headers={"content-type": "application/json"})
        if sent.get("stream"):
            if self.keep_events is not None:
                raw = b"".join(event + b"\n\n" for event in raw.split(b"\n\n")[: self.keep_events])
            translator: AnthropicToOpenAIStream | OpenAIToAnthropicStream
            if self.client_speaks == "openai":
                options = body.get("stream_options") or {}
                translator = AnthropicToOpenAIStream(None, options.get("include_usage") is True)
            else:
                translator = OpenAIToAnthropicStream(None)
            out = b"".join(translator.feed(piece) for piece in self.cut(raw)) + translator.finish()
            self.answers.append(out)
            return httpx2.Response(status, content=out, headers={"content-type": "text/event-stream"})
        parsed = json.loads(raw)
        out = json.dumps(openai_response(parsed) if self.client_speaks == "openai" else anthropic_response(parsed)).encode()
        self.answers.append(out)
        return httpx2.Response(status, content=out, headers={"content-type": "application/json"})

    async def aclose(self) -> None:
        await self.mock.aclose()


def openai_client(gateway: Gateway, **headers: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://gateway/v1", api_key="x", max_retries=0, default_headers=headers or None,
        http_client=httpx2.AsyncClient(transport=gateway),
    )


def anthropic_client(gateway: Gateway, **headers: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url="http://gateway", api_key="x", max_retries=0, default_headers=headers or None,
        http_client=httpx2.AsyncClient(transport=gateway),
    )


def sse_data(stream: bytes) -> list[str]:
    return [line[6:] for line in stream.decode().split("\n") if line.startswith("data: ")]


OPENAI_TOOLS: Any = [{"type": "function", "function": {"name": "lookup", "description": "look it up", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}]
ANTHROPIC_TOOLS: Any = [{"name": "lookup", "description": "look it up", "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}]


# -- an OpenAI client, an Anthropic upstream ---------------------------------------------------


async def test_openai_client_plain_answer() -> None:
    gateway = Gateway("openai")
    client = openai_client(gateway)
    messages: Any = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
    completion = await client.chat.completions.create(model="gpt-x", messages=messages, max_tokens=50)
    assert gateway.sent[0]["system"] == "be brief" and gateway.sent[0]["max_tokens"] == 50
    assert completion.object == "chat.completion" and completion.model == "claude-mock"
    assert completion.choices[0].message.content == "You said: hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (4, 4, 8)


async def test_openai_client_max_tokens_is_length() -> None:
    client = openai_client(Gateway("openai"))
    completion = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "one two three"}], max_completion_tokens=2)
    assert completion.choices[0].message.content == "You said:" and completion.choices[0].finish_reason == "length"


@pytest.mark.parametrize("cut", [whole, bytewise, uneven])
async def test_openai_client_stream_with_usage(cut: Cutter) -> None:
    gateway = Gateway("openai", cut)
    client = openai_client(gateway)
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    stream = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hello there again"}], stream=True, stream_options={"include_usage": True}
    )
    async for chunk in stream:
        ChatCompletionChunk.model_validate(chunk.model_dump())
        state.handle_chunk(chunk)
    final = state.get_final_completion()
    assert final.choices[0].message.content == "You said: hello there again"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None and (final.usage.prompt_tokens, final.usage.completion_tokens) == (3, 5)
    assert sse_data(gateway.answers[0])[-1] == "[DONE]"


async def test_openai_client_stream_without_usage_has_no_usage_chunk() -> None:
    gateway = Gateway("openai")
    stream = await openai_client(gateway).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    chunks = [chunk async for chunk in stream]
    assert all(chunk.usage is None and chunk.choices for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize("cut", [whole, bytewise])
async def test_openai_client_tool_call_plain_streamed_and_answered(cut: Cutter) -> None:
    gateway = Gateway("openai", cut)
    client = openai_client(gateway)
    asked: Any = [{"role": "user", "content": "weather in Oslo"}]
    plain = await client.chat.completions.create(model="m", messages=asked, tools=OPENAI_TOOLS, tool_choice="required", parallel_tool_calls=False)
    assert gateway.sent[0]["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert gateway.sent[0]["tools"] == ANTHROPIC_TOOLS
    (call,) = plain.choices[0].message.tool_calls or []
    assert plain.choices[0].finish_reason == "tool_calls" and plain.choices[0].message.content is None
    assert call.type == "function" and call.function.name == "lookup" and json.loads(call.function.arguments) == {"query": "weather in Oslo"}

    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState(input_tools=OPENAI_TOOLS)
    async for chunk in await client.chat.completions.create(model="m", messages=asked, tools=OPENAI_TOOLS, stream=True):
        state.handle_chunk(chunk)
    final = state.get_final_completion()
    (streamed,) = final.choices[0].message.tool_calls or []
    assert final.choices[0].finish_reason == "tool_calls"
    assert streamed.function.name == "lookup" and json.loads(streamed.function.arguments) == {"query": "weather in Oslo"}
    assert streamed.id.startswith("toolu_")

    answered: Any = [
        *asked,
        {"role": "assistant", "content": None, "tool_calls": [{"id": call.id, "type": "function", "function": {"name": "lookup", "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        {"role": "user", "content": "thanks"},
    ]
    after = await client.chat.completions.create(model="m", messages=answered, tools=OPENAI_TOOLS)
    assert after.choices[0].message.content == "You said: thanks" and after.choices[0].finish_reason == "stop"
    assert gateway.sent[-1]["messages"][-1] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}, {"type": "text", "text": "thanks"}],
    }


@pytest.mark.parametrize(("status", "error"), [(400, openai.BadRequestError), (401, openai.AuthenticationError), (429, openai.RateLimitError), (529, openai.InternalServerError)])
async def test_openai_client_sees_anthropic_errors_as_its_own(status: int, error: type[openai.APIStatusError]) -> None:
    client = openai_client(Gateway("openai"), **{"X-Mock-Status": str(status)})
    with pytest.raises(error) as raised:
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == status
    body: Any = raised.value.body
    assert body["message"] == "injected error" and body["param"] is None


# -- an Anthropic client, an OpenAI upstream ---------------------------------------------------


async def test_anthropic_client_plain_answer() -> None:
    gateway = Gateway("anthropic")
    client = anthropic_client(gateway)
    message = await client.messages.create(model="claude-x", max_tokens=50, system="be brief", messages=[{"role": "user", "content": "hello there"}])
    assert gateway.sent[0]["messages"][0] == {"role": "system", "content": "be brief"}
    assert message.type == "message" and message.model == "gpt-mock" and message.id.startswith("msg_")
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].type == "text" and message.content[0].text == "You said: hello there"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (4, 4)  # the system prompt counts


async def test_anthropic_client_max_tokens() -> None:
    message = await anthropic_client(Gateway("anthropic")).messages.create(model="m", max_tokens=2, messages=[{"role": "user", "content": "one two three"}])
    assert message.stop_reason == "max_tokens" and message.content[0].type == "text" and message.content[0].text == "You said:"


@pytest.mark.parametrize("cut", [whole, bytewise, uneven])
async def test_anthropic_client_stream(cut: Cutter) -> None:
    gateway = Gateway("anthropic", cut)
    client = anthropic_client(gateway)
    async with client.messages.stream(model="m", max_tokens=50, messages=[{"role": "user", "content": "hello there again"}]) as stream:
        texts = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert gateway.sent[0]["stream_options"] == {"include_usage": True}
    assert "".join(texts) == "You said: hello there again" == final.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (3, 5)
    for data in sse_data(gateway.answers[0]):
        EVENT.validate_python(json.loads(data))


@pytest.mark.parametrize("cut", [whole, bytewise])
async def test_anthropic_client_tool_use_plain_streamed_and_answered(cut: Cutter) -> None:
    gateway = Gateway("anthropic", cut)
    client = anthropic_client(gateway)
    asked: Any = [{"role": "user", "content": "weather in Oslo"}]
    message = await client.messages.create(model="m", max_tokens=50, tools=ANTHROPIC_TOOLS, tool_choice={"type": "any", "disable_parallel_tool_use": True}, messages=asked)
    assert gateway.sent[0]["tool_choice"] == "required" and gateway.sent[0]["parallel_tool_calls"] is False
    assert gateway.sent[0]["tools"] == OPENAI_TOOLS
    (call,) = message.content
    assert message.stop_reason == "tool_use" and call.type == "tool_use"
    assert call.name == "lookup" and call.input == {"query": "weather in Oslo"} and call.id.startswith("call_")

    async with client.messages.stream(model="m", max_tokens=50, tools=ANTHROPIC_TOOLS, messages=asked) as stream:
        streamed = await stream.get_final_message()
    (block,) = streamed.content
    assert streamed.stop_reason == "tool_use"
    assert block.type == "tool_use" and block.name == "lookup" and block.input == {"query": "weather in Oslo"}
    for data in sse_data(gateway.answers[-1]):
        EVENT.validate_python(json.loads(data))

    answered: Any = [
        *asked,
        {"role": "assistant", "content": [{"type": "tool_use", "id": call.id, "name": "lookup", "input": call.input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}, {"type": "text", "text": "thanks"}]},
    ]
    after = await client.messages.create(model="m", max_tokens=50, tools=ANTHROPIC_TOOLS, messages=answered)
    assert after.stop_reason == "end_turn" and after.content[0].type == "text" and after.content[0].text == "You said: thanks"
    assert gateway.sent[-1]["messages"][-2:] == [
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        {"role": "user", "content": "thanks"},
    ]


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [(400, anthropic.BadRequestError, "invalid_request_error"), (404, anthropic.NotFoundError, "not_found_error"),
     (429, anthropic.RateLimitError, "rate_limit_error"), (500, anthropic.InternalServerError, "api_error")],
)
async def test_anthropic_client_sees_openai_errors_as_its_own(status: int, error: type[anthropic.APIStatusError], kind: str) -> None:
    client = anthropic_client(Gateway("anthropic"), **{"X-Mock-Status": str(status)})
    with pytest.raises(error) as raised:
        await client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == status
    assert raised.value.body == {"type": "error", "error": {"type": kind, "message": "injected error"}}


async def test_anthropic_client_sees_a_cut_stream_as_an_error() -> None:
    gateway = Gateway("anthropic", keep_events=2)
    client = anthropic_client(gateway)
    with pytest.raises(anthropic.APIStatusError, match="cut the stream off"):
        async with client.messages.stream(model="m", max_tokens=50, messages=[{"role": "user", "content": "hello there"}]) as stream:
            await stream.get_final_message()
    assert b"message_stop" not in gateway.answers[0]


async def test_openai_client_gets_no_done_from_a_cut_stream() -> None:
    gateway = Gateway("openai", keep_events=5)
    stream = await openai_client(gateway).chat.completions.create(model="m", messages=[{"role": "user", "content": "hello there"}], stream=True)
    chunks = [chunk async for chunk in stream]
    assert [chunk.choices[0].delta.content for chunk in chunks] == ["", "You", " said:"]  # message_start, ping, block start, two deltas
    assert b"[DONE]" not in gateway.answers[0]
