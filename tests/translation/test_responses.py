"""Plain answers and error bodies, both ways, checked against the official SDKs' types."""

from __future__ import annotations

import json
from typing import Any

import pytest
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from aiproxy_core.translation import anthropic_error_body, anthropic_response, openai_error_body, openai_response

MESSAGE: dict[str, Any] = {
    "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet",
    "content": [
        {"type": "thinking", "thinking": "let me think", "signature": "s"},
        {"type": "text", "text": "The capital is ", "citations": None},
        {"type": "text", "text": "Oslo."},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"city": "Oslo", "n": [1, 2]}},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
    ],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 100, "cache_read_input_tokens": 50, "cache_creation_input_tokens": 10, "output_tokens": 20},
}


def test_anthropic_message_as_chat_completion() -> None:
    out = openai_response(MESSAGE)
    completion = ChatCompletion.model_validate(out)
    assert completion.id == "msg_01" and completion.model == "claude-sonnet" and completion.object == "chat.completion"
    choice = completion.choices[0]
    assert choice.message.content == "The capital is Oslo." and choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id == "toolu_1" and call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"city": "Oslo", "n": [1, 2]}
    assert out["usage"] == {"prompt_tokens": 160, "completion_tokens": 20, "total_tokens": 180, "prompt_tokens_details": {"cached_tokens": 50, "cache_write_tokens": 10}}
    assert openai_response(MESSAGE, model="my-alias")["model"] == "my-alias"


def test_tool_use_only_has_null_content_and_empty_answer_empty_text() -> None:
    tools_only = openai_response({**MESSAGE, "content": [MESSAGE["content"][3]]})
    assert tools_only["choices"][0]["message"]["content"] is None
    empty = openai_response({**MESSAGE, "content": [], "stop_reason": "max_tokens"})
    assert empty["choices"][0]["message"] == {"role": "assistant", "content": ""} and empty["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("body", [{}, {"content": "text", "usage": [], "stop_reason": 5}, {"content": [None, 3, {"type": "text", "text": None}, {"type": "tool_use", "input": "x"}], "id": 9}])
def test_malformed_anthropic_answers_translate_best_effort(body: dict[str, Any]) -> None:
    ChatCompletion.model_validate(openai_response(body))


COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": "gpt-4o",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None, "message": {
        "role": "assistant", "content": "Checking.", "refusal": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Ber'}},
        ],
    }}],
    "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150, "prompt_tokens_details": {"cached_tokens": 100}},
}


def test_chat_completion_as_anthropic_message() -> None:
    out = anthropic_response(COMPLETION)
    message = Message.model_validate(out)
    assert message.id == "msg_chatcmpl-9" and message.model == "gpt-4o" and message.stop_reason == "tool_use"
    assert [(b.type, getattr(b, "text", None), getattr(b, "input", None)) for b in message.content] == [
        ("text", "Checking.", None), ("tool_use", None, {"city": "Oslo"}), ("tool_use", None, {}),
    ]
    assert out["usage"] == {"input_tokens": 20, "output_tokens": 30, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 100}
    assert anthropic_response(COMPLETION, model="claude-alias")["model"] == "claude-alias"


@pytest.mark.parametrize(("finish", "stop"), [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("function_call", "tool_use"), ("content_filter", "refusal"), (None, "end_turn")])
def test_finish_reasons(finish: Any, stop: str) -> None:
    body = {**COMPLETION, "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": "x"}}]}
    assert anthropic_response(body)["stop_reason"] == stop


def test_refusal_content_parts_and_legacy_function_call() -> None:
    refused = anthropic_response({**COMPLETION, "choices": [{"finish_reason": "content_filter", "message": {"content": None, "refusal": "I can't help with that."}}]})
    assert refused["content"] == [{"type": "text", "text": "I can't help with that."}] and refused["stop_reason"] == "refusal"
    parts = anthropic_response({"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "function_call": {"name": "f", "arguments": '{"x":1}'}}}]})
    assert parts["content"][0] == {"type": "text", "text": "ab"}
    assert parts["content"][1]["name"] == "f" and parts["content"][1]["input"] == {"x": 1} and parts["content"][1]["id"].startswith("toolu_")
    Message.model_validate(parts)


@pytest.mark.parametrize("body", [{}, {"choices": "x"}, {"choices": [None]}, {"choices": [{"message": {"tool_calls": [None, {"function": 3}]}}], "usage": {"prompt_tokens": -4, "prompt_tokens_details": {"cached_tokens": 99}}}])
def test_malformed_openai_answers_translate_best_effort(body: dict[str, Any]) -> None:
    Message.model_validate(anthropic_response(body))


def test_lone_surrogates_from_the_upstream_still_write_as_utf8() -> None:
    body = json.loads('{"content": [{"type": "text", "text": "a\\ud800b"}], "id": "\\udfff"}')
    json.dumps(openai_response(body), ensure_ascii=False).encode()
    calls = json.loads('{"choices": [{"message": {"tool_calls": [{"function": {"name": "f", "arguments": "{\\"k\\": \\"\\\\ud800\\"}"}}]}}]}')
    assert anthropic_response(calls)["content"][0]["input"] == {}


# -- error bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "kind", "openai_type"), [
    (400, "invalid_request_error", "invalid_request_error"), (401, "authentication_error", "authentication_error"),
    (403, "permission_error", "permission_error"), (404, "not_found_error", "not_found_error"),
    (413, "request_too_large", "invalid_request_error"), (429, "rate_limit_error", "rate_limit_error"),
    (500, "api_error", "server_error"), (529, "overloaded_error", "server_error"),
])
def test_anthropic_errors_as_openai_errors(status: int, kind: str, openai_type: str) -> None:
    body = json.dumps({"type": "error", "error": {"type": kind, "message": "prompt is too long"}, "request_id": "req_1"}).encode()
    assert json.loads(openai_error_body(status, body)) == {"error": {"message": "prompt is too long", "type": openai_type, "param": None, "code": kind}}


@pytest.mark.parametrize(("status", "kind"), [(400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error"), (404, "not_found_error"), (413, "request_too_large"), (422, "invalid_request_error"), (429, "rate_limit_error"), (500, "api_error"), (503, "overloaded_error"), (529, "overloaded_error")])
def test_openai_errors_as_anthropic_errors(status: int, kind: str) -> None:
    body = json.dumps({"error": {"message": "Rate limit reached for gpt-4o", "type": "requests", "param": None, "code": "rate_limit_exceeded"}}).encode()
    assert json.loads(anthropic_error_body(status, body)) == {"type": "error", "error": {"type": kind, "message": "Rate limit reached for gpt-4o"}}


@pytest.mark.parametrize(("body", "message"), [
    (b'{"error": "model overloaded"}', "model overloaded"),
    (b'{"message": "bad key"}', "bad key"),
    (b'{"detail": "Not Found"}', "Not Found"),
    (b'{"detail": [{"loc": ["body"], "msg": "field required"}, {"msg": "too long"}]}', "field required; too long"),
    (b'{"error": {"code": "404", "message": "Resource not found"}}', "Resource not found"),
])
def test_error_messages_are_found_in_other_shapes(body: bytes, message: str) -> None:
    assert json.loads(anthropic_error_body(404, body))["error"]["message"] == message
    assert json.loads(openai_error_body(404, body))["error"]["message"] == message


@pytest.mark.parametrize("body", [b"", b"<html>502 Bad Gateway</html>", b"\xff\xfe", b"[1, 2]", b"null", b'{"error": {"message": 5}}', b"[" * 100_000])
def test_garbage_error_bodies_get_a_generic_message(body: bytes) -> None:
    assert json.loads(openai_error_body(502, body)) == {"error": {"message": "the upstream answered with HTTP status 502 and no error message the gateway could read", "type": "server_error", "param": None, "code": None}}
    assert json.loads(anthropic_error_body(502, body)) == {"type": "error", "error": {"type": "api_error", "message": "the upstream answered with HTTP status 502 and no error message the gateway could read"}}
