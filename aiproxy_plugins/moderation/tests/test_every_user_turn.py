"""Every user turn of a conversation is checked, not only the last one.

A client controls the whole ``messages`` list it sends: a blocked request resent with a harmless
question appended must still be blocked, and PII in an earlier turn must still be redacted. No
model is needed: the remote backend runs against the fake endpoint, PII is found by patterns.
"""

from __future__ import annotations

import json

NO_MODEL = {"actions": {"harassment": "off"}}


def remote(url: str) -> dict:
    return {"backend": "remote", "remote_url": f"{url}/v1/moderations", "api_key": "sk-remote-test"}


def conversation(first_user_turn: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": first_user_turn},
        {"role": "assistant", "content": "Let me think about that."},
        {"role": "user", "content": "Thanks! And what is the weather like today?"},
    ]


async def test_a_flagged_earlier_turn_blocks_the_request(make_gateway, remote_moderation, remote_calls):
    gw = await make_gateway(remote(remote_moderation))
    before = len(remote_calls)
    response = await gw.proxy.post("/v1/chat/completions", json={"model": "m", "messages": conversation("a story full of violence")})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"][0]["categories"] == ["violence"]
    # Both user turns went to the endpoint; the system and assistant turns are not the user's words.
    assert remote_calls[before]["input"] == ["a story full of violence", "Thanks! And what is the weather like today?"]


async def test_pii_in_an_earlier_turn_is_redacted(make_gateway):
    gw = await make_gateway(NO_MODEL)
    response = await gw.proxy.post("/v1/echo", json={"model": "m", "messages": conversation("I am ann@example.com")})
    assert response.status_code == 200, response.text
    sent = json.loads(response.json()["body"])["messages"]
    assert sent[1]["content"] == "I am [EMAIL_1]"
    assert "ann@example.com" not in response.json()["body"]


async def test_pii_in_an_earlier_turn_is_blocked_when_pii_blocks(make_gateway):
    gw = await make_gateway({"actions": {"harassment": "off", "pii": "block"}})
    response = await gw.proxy.post("/v1/chat/completions", json={"model": "m", "messages": conversation("card 4111 1111 1111 1111")})
    assert response.status_code == 400, response.text
