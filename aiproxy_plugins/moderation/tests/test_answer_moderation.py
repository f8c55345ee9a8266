"""Answers moderated: plain ones in post_request, streamed ones event by event.

The mock echoes the prompt, so prompt checks are off here and the *answer* carries the words.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

ANSWER_ONLY = {"check_prompt": False}
TOXIC = "you are a worthless fucking idiot and everybody hates you"


async def test_a_toxic_plain_answer_is_blocked(make_gateway):
    gw = await make_gateway(ANSWER_ONLY)
    response = await gw.chat(TOXIC)
    assert response.status_code == 400
    detail = response.json()["error"]["details"][0]
    assert detail["where"] == "answer" and detail["categories"] == ["harassment"]


async def test_a_flagged_plain_answer_gets_the_header(make_gateway):
    gw = await make_gateway({**ANSWER_ONLY, "actions": {"harassment": "flag"}})
    response = await gw.chat(TOXIC)
    assert response.status_code == 200
    assert response.headers["x-moderation-flagged"] == "harassment"


async def test_a_clean_stream_passes_whole(make_gateway, stream_chat, assistant_text):
    gw = await make_gateway(ANSWER_ONLY)
    events = await stream_chat(gw, "How do I kill a Python process?")
    assert assistant_text(events) == "You said: How do I kill a Python process?"
    assert events[-1] == "[DONE]" and "usage" in events[-2]


async def test_a_toxic_stream_ends_with_an_error_event(make_gateway, stream_chat, assistant_text):
    gw = await make_gateway({**ANSWER_ONLY, "stream_check_chars": 0})
    events = await stream_chat(gw, "hello there friend, " + TOXIC + " and much more after that")
    error = events[-2]["error"]
    assert error["code"] == "content_flagged"
    assert error["details"][0]["where"] == "answer"
    assert events[-1] == "[DONE]"
    assert "after that" not in assistant_text(events)
    assert not any("usage" in e for e in events if isinstance(e, dict))


async def test_held_events_never_leak_unchecked_text(make_gateway, stream_chat, assistant_text):
    # With the default window of 80 characters, the whole short answer is checked before any of it
    # leaves: the client sees only the error.
    gw = await make_gateway(ANSWER_ONLY)
    events = await stream_chat(gw, TOXIC)
    assert assistant_text(events) == ""
    assert events[-2]["error"]["code"] == "content_flagged"


async def test_stream_moderation_and_restore_together(make_gateway, stream_chat, assistant_text):
    gw = await make_gateway({"check_prompt": False, "restore_pii": True, "stream_check_chars": 5})
    events = await stream_chat(gw, "mail ann@example.com about the 10.0.0.1 outage")
    assert assistant_text(events) == "You said: mail ann@example.com about the 10.0.0.1 outage"
