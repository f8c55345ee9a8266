"""The pure parts: keys, opt-out, safeguards, stream capture and replay, entries, settings."""

from __future__ import annotations

import asyncio

import pytest

from aiproxy_cache.capture import StreamCapture
from aiproxy_cache.entries import CachedAnswer
from aiproxy_cache.keys import request_keys
from aiproxy_cache.opt_out import permission_of
from aiproxy_cache.replay import replay_events
from aiproxy_cache.safeguards import compatible
from aiproxy_cache.settings import CacheSettings


def _keys(body: dict, rule: str = "r1"):  # type: ignore[no-untyped-def]
    keys = request_keys(rule, "POST", "/v1/chat/completions", "", body)
    assert keys is not None
    return keys


def _chat(content: str, **fields: object) -> dict:
    return {"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": content}], **fields}


def test_field_order_stream_and_user_do_not_change_the_key() -> None:
    base = _keys(_chat("hi", temperature=0))
    reordered = _keys({"temperature": 0, "messages": _chat("hi")["messages"], "model": "m"})
    streamed = _keys(_chat("hi", temperature=0, stream=True, stream_options={"include_usage": True}, user="u"))
    assert base.exact == reordered.exact == streamed.exact
    assert streamed.streamed and not base.streamed


def test_everything_else_is_part_of_the_key_and_of_the_scope() -> None:
    base = _keys(_chat("hi", temperature=0))
    for other in (_chat("hi", temperature=1), _chat("hi", temperature=0, model="n"), _chat("hi", temperature=0, seed=1)):
        assert _keys(other).exact != base.exact
        assert _keys(other).scope != base.scope
    assert _keys(_chat("hi", temperature=0), rule="r2").scope != base.scope


def test_the_scope_ignores_only_the_last_user_message() -> None:
    a, b = _keys(_chat("first question")), _keys(_chat("second question"))
    assert a.exact != b.exact
    assert a.scope == b.scope
    assert (a.prompt, b.prompt) == ("first question", "second question")


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "prompt": "legacy completion"},
        {"model": "m", "messages": []},
        _chat("two answers", n=2),
        ["not", "an", "object"],
    ],
)
def test_what_is_not_cacheable(body: object) -> None:
    assert request_keys("r", "POST", "/v1/chat/completions", "", body) is None
    assert request_keys("r", "GET", "/v1/chat/completions", "", _chat("hi")) is None


def test_image_prompts_are_cached_exactly_only() -> None:
    content = [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": "data:x"}}]
    keys = _keys({"model": "m", "messages": [{"role": "user", "content": content}]})
    assert keys.prompt is None
    assert keys.scope == keys.exact


def test_cache_control_directives() -> None:
    assert (permission_of(None).lookup, permission_of(None).store) == (True, True)
    assert (permission_of("no-cache").lookup, permission_of("no-cache").store) == (False, False)
    assert (permission_of("max-age=0, No-Store").lookup, permission_of("no-store").store) == (True, False)
    assert permission_of("max-age=60").store


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("How do I reverse a list in Python?", "How can I reverse a list in Python?", True),
        ("How many km is 10 miles?", "How many kilometers are 10 miles?", True),
        ("What is the capital of France?", "Tell me the capital of France", True),
        ("How many km is 10 miles?", "How many miles is 10 km?", False),
        ("Convert 10 miles to km", "Convert 10 km to miles", False),
        ("How many km is 10 miles?", "How many km is 12 miles?", False),
        ("Is Python a compiled language?", "Is Python not a compiled language?", False),
        ("Is it safe?", "Isn't it safe?", False),
        ("Add 2 and 3", "Add 3 and 2", False),
    ],
)
def test_safeguards(a: str, b: str, same: bool) -> None:
    assert compatible(a, b) is same
    assert compatible(b, a) is same


def _events(answer: CachedAnswer) -> list[bytes]:
    async def collect() -> list[bytes]:
        return [event async for event in replay_events(answer, "chatcmpl-x")]

    return asyncio.run(collect())


def test_a_replayed_stream_captures_back_to_the_same_answer() -> None:
    answer = CachedAnswer("x" * 600 + " é", "length", "m", {"total_tokens": 3}, "q")
    events = _events(answer)
    assert events[-1] == b"data: [DONE]\n\n"
    assert len(events) == 1 + 3 + 1 + 1 + 1  # role, 3 content deltas, finish, usage, done
    capture = StreamCapture()
    for event in events:
        capture.feed(event)
    assert capture.answer("q") == answer


def test_a_capture_without_done_or_with_a_tool_call_is_not_an_answer() -> None:
    answer = CachedAnswer("hello", "stop", "m", None)
    cut = StreamCapture()
    for event in _events(answer)[:-1]:
        cut.feed(event)
    assert cut.answer(None) is None
    tool = StreamCapture()
    tool.feed(b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0}]},"finish_reason":null}]}\n\n')
    tool.feed(b"data: [DONE]\n\n")
    assert tool.answer(None) is None


def test_entries_survive_a_round_trip_and_junk_is_a_miss() -> None:
    answer = CachedAnswer("hi", "stop", "m", {"total_tokens": 1}, "q")
    assert CachedAnswer.from_value(answer.to_value()) == answer
    assert CachedAnswer.from_value(None) is None
    assert CachedAnswer.from_value(b"{not json") is None
    assert CachedAnswer.from_value({"content": "x"}) is None


def test_settings_are_checked() -> None:
    assert CacheSettings().ttl == 3600 and CacheSettings().threshold == 0.95
    for bad in ({"ttl": 0}, {"threshold": 1.5}, {"semantic": "yes"}, {"unknown": 1}):
        with pytest.raises(ValueError):
            CacheSettings.model_validate(bad)
