"""response_deny_patterns on streamed answers: stopped mid-stream with an error event and [DONE].

The mock streams one word per event, then a finish event, a usage event and ``[DONE]``; it
echoes the prompt, so "please say forbiddenword" makes the *answer* contain the word. The
prompt guard is not configured here, so only the response check can see it.
"""

from __future__ import annotations

import re

from aiproxy_content_validator.stream_guard import StreamScan, event_payload, guard_chunk, split_events

DENY = {"response_deny_patterns": [r"forbidden\s*word"]}


async def test_a_clean_stream_passes_whole(make_gateway, stream_chat, assistant_text):
    gw = await make_gateway(DENY)
    events = await stream_chat(gw, "please say something nice")
    assert assistant_text(events) == "You said: please say something nice"
    assert events[-1] == "[DONE]"
    assert "usage" in events[-2]


async def test_a_denied_stream_stops_at_the_match(make_gateway, stream_chat, assistant_text):
    gw = await make_gateway(DENY)
    events = await stream_chat(gw, "please say forbiddenword and then much more")
    # Everything before the matching word arrived; then one error event, [DONE], and nothing else.
    assert assistant_text(events) == "You said: please say "
    error = events[-2]["error"]
    assert error["code"] == "response_rejected"
    assert error["details"] == [{"plugin": "content_validator", "check": "response_deny_patterns", "choice": 0, "pattern_index": 0}]
    assert error["request_id"]
    assert events[-1] == "[DONE]"
    assert not any("usage" in e for e in events if isinstance(e, dict))


async def test_a_match_across_events_is_found(make_gateway, stream_chat, assistant_text):
    # "forbidden" and "word" arrive in separate events; the accumulated text matches.
    gw = await make_gateway(DENY)
    events = await stream_chat(gw, "say forbidden word now")
    assert assistant_text(events) == "You said: say forbidden "
    assert events[-2]["error"]["code"] == "response_rejected"


async def test_streams_are_tracked_per_request(make_gateway, stream_chat, assistant_text):
    gw = await make_gateway(DENY)
    await stream_chat(gw, "forbidden")  # half a match, in another request
    events = await stream_chat(gw, "word")
    assert assistant_text(events) == "You said: word"


async def test_the_stream_is_not_checked_without_deny_patterns(make_gateway, stream_chat, assistant_text):
    gw = await make_gateway({"response_schema": {"type": "array"}})
    events = await stream_chat(gw, "forbiddenword")
    assert assistant_text(events) == "You said: forbiddenword"


async def test_a_stream_refused_before_the_upstream_is_a_plain_error(make_gateway):
    gw = await make_gateway({**DENY, "deny_patterns": ["forbiddenword"]})
    response = await gw.chat("forbiddenword", stream=True)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "prompt_denied"


# -- the guard itself -------------------------------------------------------------------------


class FakeContext:
    request_id = "req-1"

    def __init__(self) -> None:
        self.state: dict = {}


def delta(text: str, index: int = 0) -> bytes:
    return b'data: {"choices":[{"index":%d,"delta":{"content":"%s"}}]}\n\n' % (index, text.encode())


def test_split_events_keeps_separators_and_remainders():
    assert split_events(b"data: a\n\ndata: b\r\n\r\n: comment\n\ndata: c") == [b"data: a\n\n", b"data: b\r\n\r\n", b": comment\n\n", b"data: c"]


def test_event_payload_reads_multi_line_data_and_skips_the_rest():
    assert event_payload(b'event: x\ndata: {"a":\ndata: 1}\n\n') == {"a": 1}
    assert event_payload(b"data: [DONE]\n\n") is None
    assert event_payload(b": keep-alive\n\n") is None
    assert event_payload(b"data: not json\n\n") is None


def test_events_before_the_match_in_the_same_chunk_are_kept():
    ctx = FakeContext()
    out = guard_chunk(ctx, [re.compile("bad")], 100, delta("fine ") + delta("bad") + delta("later"))
    assert out.startswith(delta("fine ") + b'data: {"error": ')
    assert out.endswith(b"\n\ndata: [DONE]\n\n")
    assert b"later" not in out
    assert guard_chunk(ctx, [re.compile("bad")], 100, delta("more")) == b""


def test_unmatched_chunks_pass_unchanged():
    ctx = FakeContext()
    assert guard_chunk(ctx, [re.compile("bad")], 100, delta("good")) is None
    assert isinstance(ctx.state["content_validator"], StreamScan)


def test_choices_are_accumulated_separately():
    ctx = FakeContext()
    pattern = [re.compile("ab")]
    assert guard_chunk(ctx, pattern, 100, delta("a", 0) + delta("b", 1)) is None
    assert b"error" in guard_chunk(ctx, pattern, 100, delta("b", 0))


def test_the_lookback_window_bounds_memory():
    ctx = FakeContext()
    pattern = [re.compile("start.*end")]
    guard_chunk(ctx, pattern, 64, delta("start"))
    for _ in range(20):
        guard_chunk(ctx, pattern, 64, delta("x" * 10))
    assert len(ctx.state["content_validator"].tails[0]) == 64
    # "start" left the window 200 characters ago: the documented trade-off, no match.
    assert guard_chunk(ctx, pattern, 64, delta("end")) is None
