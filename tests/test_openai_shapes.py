"""``aiproxy_core.openai_shapes``: the one reader of OpenAI-shaped bodies that content_validator,
moderation, rate_limiter, billing and cache share; and ``ProxyResponse.json`` parsed once."""

from __future__ import annotations

from typing import Any

import pytest

from aiproxy_core import ProxyResponse, openai_shapes
from aiproxy_core.openai_shapes import TokenUsage


def test_prompt_texts_of_chat_legacy_embeddings_and_responses_bodies() -> None:
    chat = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "here"}]},
            {"role": "assistant", "content": "ok"},
            {"content": "no role: the user's"},
        ]
    }
    assert openai_shapes.prompt_texts(chat) == [("messages[1]", "look\nhere"), ("messages[3]", "no role: the user's")]
    assert [where for where, _ in openai_shapes.prompt_texts(chat, all_roles=True)] == [f"messages[{i}]" for i in range(4)]
    assert openai_shapes.prompt_texts({"prompt": ["a", 3, "b"]}) == [("prompt[0]", "a"), ("prompt[2]", "b")]
    assert openai_shapes.prompt_texts({"input": "embed me"}) == [("input", "embed me")]
    responses = {"input": [{"role": "system", "content": "sys"}, {"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]}
    assert openai_shapes.prompt_texts(responses) == [("input[1]", "hi")]


@pytest.mark.parametrize("hostile", [None, 3, "text", [], [1, 2], {"messages": "x"}, {"messages": [None, 5, ["x"]]}, {"prompt": {"a": 1}}])
def test_hostile_shapes_have_no_text_and_raise_nothing(hostile: Any) -> None:
    assert openai_shapes.prompt_texts(hostile) == []
    assert openai_shapes.answer_texts(hostile) == {}
    assert openai_shapes.delta_texts(hostile) == []
    assert openai_shapes.usage_in_body(hostile) is None
    assert openai_shapes.model_of(hostile) is None


def test_answer_texts_and_stream_deltas() -> None:
    answer = {"choices": [{"index": 0, "message": {"content": "hello"}}, {"index": 1, "text": "legacy"}, "junk", {"message": None}]}
    assert openai_shapes.answer_texts(answer) == {0: "hello", 1: "legacy", 3: ""}
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hel"}}, {"index": 1, "text": "lo"}, {"index": True, "delta": {}}]}
    found = openai_shapes.delta_texts(chunk)
    assert [(index, key, text) for index, _, key, text in found] == [(0, "content", "Hel"), (1, "text", "lo")]
    index, holder, key, _ = found[0]
    holder[key] = "***"  # the holder is where the text sits: a caller may rewrite it in place
    assert chunk["choices"][0]["delta"]["content"] == "***"


@pytest.mark.parametrize(
    "usage, expected",
    [
        ({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}, TokenUsage(3, 4, 7)),
        ({"input_tokens": 3, "output_tokens": 4}, TokenUsage(3, 4, 7)),  # Responses API, Anthropic
        ({"total_tokens": 9}, TokenUsage(0, 0, 9)),
        ({"prompt_tokens": 3}, TokenUsage(3, 0, None)),  # no total, half the parts: no total
        ({"prompt_tokens": -1, "completion_tokens": "4"}, None),  # nothing usable
        ({"prompt_tokens": True, "completion_tokens": 2}, TokenUsage(0, 2, None)),  # a bool is not a count
        ([1, 2], None),
        (None, None),
    ],
)
def test_usage_of_both_spellings(usage: Any, expected: TokenUsage | None) -> None:
    assert openai_shapes.usage_of(usage) == expected


def test_usage_from_a_body_its_bytes_and_a_streams_last_usage_event() -> None:
    body = {"model": "gpt-4o-mini", "usage": {"prompt_tokens": 1, "completion_tokens": 2}}
    assert openai_shapes.usage_in_body(body) == TokenUsage(1, 2, 3)
    assert openai_shapes.usage_in_body(b'{"usage": {"input_tokens": 5, "output_tokens": 6}}') == TokenUsage(5, 6, 11)
    assert openai_shapes.usage_in_body(b"not json, no usage") is None
    assert openai_shapes.usage_in_body(b'{"usage": truncated') is None
    events = (
        b'data: {"choices": [{"delta": {"content": "hi"}}]}\n\n'
        b'data: {"choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10}}\n\n'
        b"data: [DONE]\n\n"
    )
    assert openai_shapes.usage_in_events(events) == TokenUsage(8, 2, 10)
    assert openai_shapes.model_of(body) == "gpt-4o-mini"


def test_a_response_body_is_parsed_once_and_again_when_it_is_replaced() -> None:
    response = ProxyResponse(200, {"content-type": "application/json"}, b'{"a": 1}')
    first = response.json
    assert first == {"a": 1} and response.json is first  # every hook gets the same object
    response.body = b'{"a": 2}'
    assert response.json == {"a": 2}
    response.body = b"not json"
    with pytest.raises(ValueError):
        response.json
    assert ProxyResponse(200, None, b"").json is None
