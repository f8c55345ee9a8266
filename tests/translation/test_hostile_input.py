"""Every translator on hostile input: random JSON, and JSON shaped almost like a real body (known
keys and values, wrong types anywhere). Requests may only raise TranslationError; answers, streams
and error bodies may not raise at all, and whatever comes out is writable JSON / UTF-8."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiproxy_core.translation import (
    AnthropicToOpenAIStream,
    OpenAIToAnthropicStream,
    TranslationError,
    anthropic_error_body,
    anthropic_request,
    anthropic_response,
    openai_error_body,
    openai_request,
    openai_response,
)

KEYS = [
    "model", "messages", "role", "content", "type", "text", "tool_calls", "function", "arguments", "name", "id", "tool_call_id",
    "tools", "tool_choice", "parallel_tool_calls", "image_url", "url", "source", "media_type", "data", "input", "tool_use_id",
    "system", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "stop_sequences", "stream", "user", "metadata",
    "user_id", "n", "parameters", "input_schema", "description", "disable_parallel_tool_use", "refusal", "choices", "message",
    "delta", "index", "finish_reason", "stop_reason", "usage", "prompt_tokens", "completion_tokens", "input_tokens",
    "output_tokens", "cache_read_input_tokens", "prompt_tokens_details", "cached_tokens", "content_block", "partial_json",
    "error", "detail", "is_error", "title", "functions", "function_call",
]
WORDS = [
    "user", "assistant", "system", "developer", "tool", "function", "text", "image_url", "image", "tool_use", "tool_result",
    "thinking", "document", "base64", "url", "auto", "none", "required", "any", "custom", "stop", "length", "tool_calls",
    "end_turn", "max_tokens", "message_start", "content_block_start", "content_block_delta", "message_delta", "message_stop",
    "text_delta", "input_json_delta", "error", "application/pdf", "data:image/png;base64,AAAA", "https://x/y.png", "{", '{"a":1}', "",
]
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(max_size=8) | st.sampled_from(WORDS)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=25)
shaped = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
    max_leaves=40,
)
models = st.none() | st.text(max_size=5)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the valid shape, sometimes anything: so the junk reaches every depth."""
    return st.integers(0, 19).flatmap(lambda draw: json_values if draw == 7 else valid)  # not 0: Hypothesis favours bounds


def obj(required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]] | None = None) -> st.SearchStrategy[Any]:
    return maybe(st.fixed_dictionaries({k: maybe(v) for k, v in required.items()}, optional={k: maybe(v) for k, v in (optional or {}).items()}))


def items(strategy: st.SearchStrategy[Any], max_size: int = 4, min_size: int = 0) -> st.SearchStrategy[Any]:
    return maybe(st.lists(strategy, min_size=min_size, max_size=max_size))


def one(*values: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


text = st.text(max_size=6)
said = st.text(min_size=1, max_size=6) | text  # what a message says: empty now and then, not mostly
word = st.text(alphabet="abc.:_-", min_size=1, max_size=6)
count = st.integers(min_value=1, max_value=50)
index = one(0, 0, 0, 1, 2)
urls = one("data:image/png;base64,AAAA", "data:image/jpeg;charset=x;base64,AA", "https://x/y.png", "HTTP://X/Y")
arguments = one('{"a": 1}', "{", "", "[1]", "null", '{"a": "\\ud800"}')
schema = one({"type": "object"}, {"type": "object", "properties": {"q": {"type": "string"}}})

openai_part = obj({"type": st.just("text"), "text": said}) | obj({"type": st.just("image_url"), "image_url": obj({"url": urls}, {"detail": text})})
openai_call = obj({"id": word, "type": st.just("function"), "function": obj({"name": text, "arguments": arguments})})
text_parts = items(obj({"type": st.just("text"), "text": said}))
openai_message = (
    obj({"role": one("system", "developer"), "content": said | text_parts})
    | obj({"role": st.just("user"), "content": said | items(openai_part)})
    | obj({"role": st.just("assistant")}, {"content": st.none() | said | text_parts, "tool_calls": items(openai_call)})
    | obj({"role": st.just("tool"), "tool_call_id": word, "content": said | text_parts})
)
openai_tool = obj({"type": st.just("function"), "function": obj({"name": text}, {"description": text, "parameters": schema})})
openai_body = obj(
    {"model": word, "messages": items(openai_message, 6, 1)},
    {
        "tools": items(openai_tool), "tool_choice": one("auto", "none", "required") | obj({"type": st.just("function"), "function": obj({"name": text})}),
        "parallel_tool_calls": st.booleans(), "max_tokens": count, "max_completion_tokens": count,
        "temperature": st.floats(0, 2), "top_p": st.floats(0, 1), "top_k": count, "stop": text | st.lists(text, max_size=3), "stream": st.booleans(),
        "n": st.just(1), "user": text, "safety_identifier": text, "seed": count, "response_format": obj({"type": text}),
    },
)

image_source = obj({"type": st.just("base64"), "media_type": one("image/png", "image/gif"), "data": text}) | obj({"type": st.just("url"), "url": urls})
document_source = obj({"type": st.just("base64"), "media_type": st.just("application/pdf"), "data": text}) | obj({"type": st.just("text"), "media_type": st.just("text/plain"), "data": text})
text_block = obj({"type": st.just("text"), "text": said}, {"cache_control": obj({"type": st.just("ephemeral")})})
image_block = obj({"type": st.just("image"), "source": image_source})
tool_use_block = obj({"type": st.just("tool_use"), "id": word, "name": text, "input": st.dictionaries(text, text, max_size=2)})
user_block = (
    text_block | image_block | obj({"type": st.just("document"), "source": document_source}, {"title": text})
    | obj({"type": st.just("tool_result"), "tool_use_id": word}, {"is_error": st.booleans(), "content": text | items(text_block | image_block)})
)
assistant_block = text_block | tool_use_block | obj({"type": st.just("thinking"), "thinking": text, "signature": text})
anthropic_message = obj({"role": st.just("user"), "content": said | items(user_block)}) | obj({"role": st.just("assistant"), "content": said | items(assistant_block)})
anthropic_body = obj(
    {"model": word, "max_tokens": count, "messages": items(anthropic_message, 6, 1)},
    {
        "system": text | items(text_block), "stop_sequences": st.lists(text, max_size=3),
        "temperature": st.floats(0, 1), "top_p": st.floats(0, 1), "top_k": count, "stream": st.booleans(), "metadata": obj({}, {"user_id": text}),
        "tools": items(obj({"name": text, "input_schema": schema}, {"type": st.just("custom"), "description": text})),
        "tool_choice": obj({"type": one("auto", "any", "none")}, {"disable_parallel_tool_use": st.booleans()}) | obj({"type": st.just("tool"), "name": text}),
        "thinking": obj({"type": st.just("enabled"), "budget_tokens": count}),
    },
)

openai_usage = obj({"prompt_tokens": count, "completion_tokens": count}, {"prompt_tokens_details": obj({"cached_tokens": count, "cache_write_tokens": count})})
anthropic_usage = obj({"input_tokens": count, "output_tokens": count}, {"cache_read_input_tokens": count, "cache_creation_input_tokens": count})
completion = obj(
    {"id": text, "model": text, "choices": items(obj({"index": index, "finish_reason": one("stop", "length", "tool_calls", "content_filter", None), "message": obj(
        {"role": one("assistant")}, {"content": st.none() | text | items(openai_part), "refusal": text, "tool_calls": items(openai_call), "function_call": obj({"name": text, "arguments": arguments})},
    )}))},
    {"usage": openai_usage},
)
anthropic_answer = obj(
    {"id": text, "model": text, "content": items(assistant_block), "stop_reason": one("end_turn", "max_tokens", "tool_use", "refusal", "pause_turn", None)},
    {"usage": anthropic_usage},
)
bodies = openai_body | anthropic_body | completion | anthropic_answer | st.dictionaries(st.sampled_from(KEYS), shaped, max_size=8)

delta = obj({"type": one("text_delta", "input_json_delta", "thinking_delta")}, {"text": text, "partial_json": arguments})
anthropic_events = obj(
    {"type": one("message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop", "ping", "error")},
    {"message": anthropic_answer, "index": index, "content_block": assistant_block, "delta": maybe(delta | obj({"stop_reason": one("end_turn", "tool_use", None)})),
     "usage": anthropic_usage, "error": obj({"type": text, "message": text})},
)
chunk_delta = obj({}, {"role": text, "content": text, "refusal": text, "tool_calls": items(obj({"index": index}, {"id": text, "function": obj({}, {"name": text, "arguments": arguments})}))})
openai_chunks = obj(
    {"id": text, "model": text, "choices": items(obj({"index": index, "delta": chunk_delta}, {"finish_reason": one("stop", "tool_calls", None)}))},
    {"usage": openai_usage, "error": obj({"message": text, "type": text})},
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def writable(value: Any) -> None:
    json.dumps(value, ensure_ascii=False).encode("utf-8")


@FAST
@given(bodies | json_values, models)
def test_requests_raise_only_translation_errors(body: Any, model: str | None) -> None:
    for translate in (anthropic_request, openai_request):
        try:
            out = translate(body, model=model)
        except TranslationError as exc:
            assert exc.message and str(exc) == exc.message
        else:
            writable(out)


@FAST
@given(bodies | json_values, models)
def test_answers_never_raise(body: Any, model: str | None) -> None:
    writable(openai_response(body, model=model))
    writable(anthropic_response(body, model=model))


@FAST
@given(st.integers(min_value=100, max_value=599), st.binary(max_size=64) | (bodies | json_values).map(lambda v: json.dumps(v).encode()))
def test_error_bodies_never_raise(status: int, body: bytes) -> None:
    for translate in (openai_error_body, anthropic_error_body):
        out = json.loads(translate(status, body))
        assert isinstance(out["error"]["message"], str) and out["error"]["message"]


def sse(payload: Any, name: str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"event: {name}\ndata: {data}\n\n".encode()


events = st.tuples(anthropic_events | openai_chunks | json_values | st.sampled_from(["[DONE]", "x", ""]), st.sampled_from(WORDS)).map(lambda pair: sse(*pair))
streams = st.lists(events | events | st.binary(max_size=16), max_size=14).map(b"".join)


def check_output(out: bytes) -> None:
    for line in out.decode("utf-8").split("\n"):
        if line.startswith("data: ") and line != "data: [DONE]":
            json.loads(line[6:])


@FAST
@given(streams, st.lists(st.integers(min_value=1, max_value=40), max_size=10), models, st.booleans())
def test_streams_never_raise(body: bytes, cuts: list[int], model: str | None, include_usage: bool) -> None:
    for translator in (AnthropicToOpenAIStream(model, include_usage), OpenAIToAnthropicStream(model)):
        out, start = b"", 0
        for size in [*cuts, len(body)]:
            out += translator.feed(body[start : start + size])
            start += size
        out += translator.finish()
        check_output(out)
