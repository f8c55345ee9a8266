"""Request bodies, both ways: what each field becomes, what is dropped, and what is refused with a
message that tells the client what to change."""

from __future__ import annotations

from typing import Any

import pytest

from aiproxy_core.translation import DEFAULT_MAX_TOKENS, TranslationError, anthropic_request, openai_request
from aiproxy_core.translation.anthropic_to_openai_request import DROPPED_FIELDS as DROPPED_FOR_OPENAI
from aiproxy_core.translation.openai_to_anthropic import DROPPED_FIELDS as DROPPED_FOR_ANTHROPIC

PNG = "iVBORw0KGgo="


def chat(*messages: Any, **fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": list(messages), **fields}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


# -- OpenAI -> Anthropic ------------------------------------------------------------------------


def test_minimal_request_gets_the_default_max_tokens_and_the_target_model() -> None:
    assert anthropic_request(chat(user("hi")), model="claude-sonnet") == {
        "model": "claude-sonnet", "max_tokens": DEFAULT_MAX_TOKENS, "messages": [{"role": "user", "content": "hi"}],
    }
    assert anthropic_request(chat(user("hi")), model=None)["model"] == "gpt-4o"


def test_system_and_developer_messages_become_one_system_string() -> None:
    body = chat(
        {"role": "system", "content": "be brief"},
        {"role": "developer", "content": [{"type": "text", "text": "use metric"}, {"type": "text", "text": "no emoji"}]},
        user("hi"),
        {"role": "system", "content": "late rule"},
    )
    out = anthropic_request(body, model=None)
    assert out["system"] == "be brief\n\nuse metric\nno emoji\n\nlate rule"
    assert out["messages"] == [{"role": "user", "content": "hi"}]


def test_multi_part_content_with_images() -> None:
    parts = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "text", "text": ""},
        {"type": "text", "text": " \n"},
    ]
    assert anthropic_request(chat(user(parts)), model=None)["messages"][0]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_tool_calls_tool_results_and_merged_turns() -> None:
    body = chat(
        user("weather in Oslo and Bergen?"),
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}},
            {"id": "functions.weather:2", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Berg'}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "functions.weather:2", "content": [{"type": "text", "text": "rain"}]},
        user("and tomorrow?"),
        user([{"type": "text", "text": "in Celsius"}]),
        {"role": "assistant", "content": ""},
    )
    assert anthropic_request(body, model=None)["messages"] == [
        {"role": "user", "content": "weather in Oslo and Bergen?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "functions_weather_2", "name": "weather", "input": {}},  # broken arguments: {}
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "functions_weather_2", "content": "rain"},
            {"type": "text", "text": "and tomorrow?"},
            {"type": "text", "text": "in Celsius"},
        ]},
    ]


def test_tool_results_come_first_in_a_merged_user_turn() -> None:
    body = chat(user("a"), {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, user("b"), {"role": "tool", "tool_call_id": "c", "content": ""})
    assert anthropic_request(body, model=None)["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "c"}, {"type": "text", "text": "b"}]


def test_tools_and_sampling_fields() -> None:
    body = chat(
        user("hi"),
        tools=[{"type": "function", "function": {"name": "f", "description": "does f", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}, "strict": True}},
               {"type": "function", "function": {"name": "g"}}],
        tool_choice={"type": "function", "function": {"name": "f"}},
        parallel_tool_calls=False,
        max_completion_tokens=100, max_tokens=5, temperature=1.5, top_p=0.9, top_k=40, stop="END", stream=True,
        stream_options={"include_usage": True}, user="user-42", n=1,
    )
    out = anthropic_request(body, model="claude")
    assert out == {
        "model": "claude", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}],
        "temperature": 1, "top_p": 0.9, "top_k": 40, "stop_sequences": ["END"], "stream": True,
        "tools": [{"name": "f", "description": "does f", "input_schema": {"type": "object", "properties": {"x": {"type": "integer"}}}},
                  {"name": "g", "input_schema": {"type": "object", "properties": {}}}],
        "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
        "metadata": {"user_id": "user-42"},
    }


@pytest.mark.parametrize(("choice", "parallel", "expected"), [
    ("auto", None, {"type": "auto"}),
    ("none", False, {"type": "none"}),
    ("required", None, {"type": "any"}),
    (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    (None, True, None),
])
def test_tool_choice(choice: Any, parallel: Any, expected: Any) -> None:
    body = chat(user("hi"), tools=[{"type": "function", "function": {"name": "f"}}], tool_choice=choice, parallel_tool_calls=parallel)
    assert anthropic_request(body, model=None).get("tool_choice") == expected


def test_tool_choice_without_tools_is_dropped_and_stop_lists_kept() -> None:
    out = anthropic_request(chat(user("hi"), tool_choice="auto", stop=["a", "b"]), model=None)
    assert "tool_choice" not in out and out["stop_sequences"] == ["a", "b"]


def test_untranslatable_fields_are_dropped() -> None:
    dropped = {"frequency_penalty": 0.5, "presence_penalty": 0.1, "logit_bias": {"1": 2}, "logprobs": True, "top_logprobs": 2, "seed": 7,
               "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}, "store": True, "metadata": {"a": "b"},
               "service_tier": "flex", "reasoning_effort": "low", "some_future_field": 1}
    out = anthropic_request(chat(user("hi"), **dropped), model=None)
    assert set(out) == {"model", "max_tokens", "messages"}
    assert {"frequency_penalty", "response_format", "seed", "logprobs"} <= set(DROPPED_FOR_ANTHROPIC)


@pytest.mark.parametrize(("body", "message"), [
    ([], "the request body must be a JSON object"),
    (chat(user("hi"), n=2), "n: this route's upstream (Anthropic) answers with one choice per request; send n=1"),
    (chat(user("hi"), n="2"), "n must be a positive integer"),
    ({"messages": [user("hi")]}, "model must be a non-empty string"),
    (chat(), "messages must hold at least one user or assistant message"),
    (chat({"role": "system", "content": "only a system prompt"}), "messages must hold at least one user or assistant message"),
    ({"model": "m", "messages": "hi"}, "messages must be a list"),
    (chat("hi"), "messages[0] must be a JSON object"),
    (chat({"role": "robot", "content": "x"}), "messages[0].role must be one of system, developer, user, assistant or tool"),
    (chat(user(None)), "messages[0].content must be a string or a list of content parts"),
    (chat(user([{"type": "input_audio", "input_audio": {}}])), "messages[0].content[0]: input_audio parts do not translate"),
    (chat(user([{"type": "image_url", "image_url": {"url": "data:image/svg+xml,<svg/>"}}])), "base64 data URL"),
    (chat(user([{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}])), "must be an http(s) URL or a base64 data URL"),
    (chat(user([{"type": "text", "text": 3}])), "messages[0].content[0].text must be a string"),
    (chat(user("a"), {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}), "messages[1].tool_calls[0].id must be a string"),
    (chat(user("a"), {"role": "assistant", "tool_calls": {"id": "x"}}), "messages[1].tool_calls must be a list"),
    (chat({"role": "tool", "content": "x"}), "messages[0].tool_call_id must be a string"),
    (chat({"role": "function", "name": "f", "content": "x"}), "legacy function role"),
    (chat(user("hi"), functions=[{"name": "f"}]), "functions: the legacy function calling fields"),
    (chat(user("hi"), max_tokens=0), "max_tokens must be a positive integer"),
    (chat(user("hi"), max_tokens=True), "max_tokens must be a positive integer"),
    (chat(user("hi"), temperature="hot"), "temperature must be a number"),
    (chat(user("hi"), temperature=float("nan")), "temperature must be a number"),
    (chat(user("hi"), stop=[1]), "stop[0] must be a string"),
    (chat(user("hi"), stream="yes"), "stream must be true or false"),
    (chat(user("hi"), tools=[{"type": "custom", "custom": {"name": "x"}}]), "tools[0].type must be function"),
    (chat(user("hi"), tools=[{"type": "function", "function": {"name": "f", "parameters": []}}]), "tools[0].function.parameters must be a JSON object"),
    (chat(user("hi"), tools=[{"type": "function", "function": {"name": "f"}}], tool_choice="any"), "tool_choice must be auto, none, required"),
    (chat(user("hi"), tools=[{"type": "function", "function": {"name": "f"}}], tool_choice={"type": "allowed_tools"}), "tool_choice must be auto, none, required or"),
    (chat(user("hi"), user=5), "user must be a string"),
])
def test_refused_openai_requests_say_what_to_change(body: Any, message: str) -> None:
    with pytest.raises(TranslationError) as raised:
        anthropic_request(body, model=None)
    assert message in str(raised.value)


# -- Anthropic -> OpenAI ------------------------------------------------------------------------


def messages(*turns: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "claude", "max_tokens": 256, "messages": list(turns), **fields}


def test_minimal_anthropic_request() -> None:
    assert openai_request(messages(user("hi")), model="gpt-4o-mini") == {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 256}


def test_system_blocks_images_and_documents() -> None:
    body = messages(
        user([
            {"type": "text", "text": "compare", "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}, "title": "spec.pdf"},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain words"}},
        ]),
        system=[{"type": "text", "text": "be brief"}, {"type": "text", "text": "be kind", "cache_control": {"type": "ephemeral"}}],
    )
    assert openai_request(body, model=None)["messages"] == [
        {"role": "system", "content": "be brief\nbe kind"},
        {"role": "user", "content": [
            {"type": "text", "text": "compare"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
            {"type": "file", "file": {"filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
            {"type": "text", "text": "plain words"},
        ]},
    ]


def test_tool_use_and_tool_results() -> None:
    body = messages(
        user("weather?"),
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should look", "signature": "sig"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo", "unit": "°C"}},
            {"type": "tool_use", "id": "toolu_2", "name": "map", "input": {}},
        ]},
        user([
            {"type": "text", "text": "here you go"},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}, {"type": "text", "text": "12°C"}]},
            {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True, "content": [{"type": "image", "source": {"type": "url", "url": "https://x/map.png"}}]},
        ]),
        {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "x"}]},
    )
    assert openai_request(body, model=None)["messages"] == [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo","unit":"°C"}'}},
            {"id": "toolu_2", "type": "function", "function": {"name": "map", "arguments": "{}"}},
        ]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny\n12°C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": "here you go"}, {"type": "image_url", "image_url": {"url": "https://x/map.png"}}]},
    ]


def test_fields_tools_and_stream() -> None:
    body = messages(
        user("hi"), temperature=0.2, top_p=0.5, top_k=40, stop_sequences=["END"], stream=True, metadata={"user_id": "u-1"},
        thinking={"type": "enabled", "budget_tokens": 1024}, service_tier="auto",
        tools=[{"name": "f", "description": "does f", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
        tool_choice={"type": "tool", "name": "f", "disable_parallel_tool_use": True},
    )
    assert openai_request(body, model=None) == {
        "model": "claude", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 256, "temperature": 0.2, "top_p": 0.5,
        "stop": ["END"], "stream": True, "stream_options": {"include_usage": True},
        "tools": [{"type": "function", "function": {"name": "f", "description": "does f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}}, "parallel_tool_calls": False, "user": "u-1",
    }
    assert {"thinking", "top_k"} <= set(DROPPED_FOR_OPENAI)


@pytest.mark.parametrize(("choice", "expected"), [
    ({"type": "auto"}, {"tool_choice": "auto"}),
    ({"type": "any"}, {"tool_choice": "required"}),
    ({"type": "none"}, {"tool_choice": "none"}),
    ({"type": "auto", "disable_parallel_tool_use": True}, {"tool_choice": "auto", "parallel_tool_calls": False}),
])
def test_anthropic_tool_choice(choice: Any, expected: Any) -> None:
    out = openai_request(messages(user("hi"), tools=[{"name": "f", "input_schema": {"type": "object"}}], tool_choice=choice), model=None)
    assert {k: out[k] for k in ("tool_choice", "parallel_tool_calls") if k in out} == expected


@pytest.mark.parametrize(("body", "message"), [
    ("text", "the request body must be a JSON object"),
    ({"messages": [user("hi")]}, "model must be a non-empty string"),
    (messages(), "messages must hold at least one message"),
    (messages(user("hi"), system=5), "system must be a string or a list of text blocks"),
    (messages(user("hi"), system=[{"type": "image"}]), "system[0] must be a text block"),
    (messages({"role": "system", "content": "x"}), "messages[0].role must be user or assistant"),
    (messages(user(7)), "messages[0].content must be a string or a list of content blocks"),
    (messages(user([{"type": "search_result"}])), "messages[0].content[0].type 'search_result' does not translate"),
    (messages(user([{"type": "image", "source": {"type": "file", "file_id": "f"}}])), "Anthropic Files API images cannot be passed on"),
    (messages(user([{"type": "document", "source": {"type": "base64", "media_type": "text/csv", "data": "x"}}])), "only base64 PDF and plain-text documents"),
    (messages(user([{"type": "tool_result", "content": "x"}])), "messages[0].content[0].tool_use_id must be a string"),
    (messages({"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": []}]}), "messages[0].content[0].input must be a JSON object"),
    (messages({"role": "assistant", "content": [{"type": "server_tool_use", "id": "t"}]}), "'server_tool_use' does not translate"),
    (messages(user("hi"), max_tokens="many"), "max_tokens must be a positive integer"),
    (messages(user("hi"), stop_sequences="END"), "stop_sequences must be a list"),
    (messages(user("hi"), metadata="u"), "metadata must be a JSON object"),
    (messages(user("hi"), tools=[{"type": "web_search_20250305", "name": "web_search"}]), "is an Anthropic server tool"),
    (messages(user("hi"), tools=[{"name": "f"}]), "tools[0].input_schema must be a JSON object"),
    (messages(user("hi"), tools=[{"name": "f", "input_schema": {}}], tool_choice={"type": "required"}), "tool_choice.type must be auto, any, tool or none"),
])
def test_refused_anthropic_requests_say_what_to_change(body: Any, message: str) -> None:
    with pytest.raises(TranslationError) as raised:
        openai_request(body, model=None)
    assert message in str(raised.value)


def test_deep_tool_input_is_refused_not_a_recursion_error() -> None:
    deep: Any = {}
    for _ in range(100_000):
        deep = {"a": deep}
    body = messages({"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": deep}]})
    with pytest.raises(TranslationError, match="nested too deeply"):
        openai_request(body, model=None)
