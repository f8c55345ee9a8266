"""PII in prompts: redacted before the upstream sees it, and restored in plain and streamed answers.

The mock echoes ``/v1/echo`` requests (what the upstream received) and answers chat completions
with "You said: <prompt>", so a redacted prompt comes back with placeholders the plugin restores.
Harassment checks are off here: these tests need no model.
"""

from __future__ import annotations

import json

from aiproxy_moderation.placeholders import PiiVault
from aiproxy_moderation.stream_restore import StreamRestorer

NO_MODEL = {"actions": {"harassment": "off"}}
PROMPT = "I am ann@example.com, card 4111 1111 1111 1111, call +1 (555) 123-4567, again ann@example.com"


async def test_the_upstream_sees_placeholders(make_gateway, echo):
    gw = await make_gateway(NO_MODEL)
    sent = await echo(gw, PROMPT)
    assert sent["messages"][0]["content"] == "I am [EMAIL_1], card [CARD_1], call [PHONE_1], again [EMAIL_1]"


async def test_default_settings_redact_pii(make_gateway, echo):
    gw = await make_gateway()
    sent = await echo(gw, "my IBAN is DE89 3704 0044 0532 0130 00")
    assert sent["messages"][0]["content"] == "my IBAN is [IBAN_1]"


async def test_every_role_and_text_part_is_redacted(make_gateway):
    gw = await make_gateway(NO_MODEL)
    messages = [
        {"role": "system", "content": "The customer is bob@example.com"},
        {"role": "user", "content": [{"type": "text", "text": "server 10.0.0.7"}, {"type": "image_url", "image_url": {"url": "x"}}]},
    ]
    response = await gw.proxy.post("/v1/echo", json={"model": "m", "messages": messages})
    sent = json.loads(response.json()["body"])
    assert sent["messages"][0]["content"] == "The customer is [EMAIL_1]"
    assert sent["messages"][1]["content"][0]["text"] == "server [IP_1]"
    assert sent["messages"][1]["content"][1] == {"type": "image_url", "image_url": {"url": "x"}}


async def test_a_body_without_pii_is_sent_byte_for_byte(make_gateway):
    gw = await make_gateway(NO_MODEL)
    raw = b'{ "messages" : [ {"role": "user", "content": "nothing here"} ] }'
    response = await gw.proxy.post("/v1/echo", content=raw, headers={"content-type": "application/json"})
    assert response.json()["body"] == raw.decode()


async def test_tenant_patterns_get_typed_placeholders(make_gateway, echo):
    gw = await make_gateway({**NO_MODEL, "pii_patterns": [r"ACC-\d{6}", {"type": "EMPLOYEE", "pattern": r"EMP\d{4}"}]})
    sent = await echo(gw, "account ACC-123456 of EMP0042")
    assert sent["messages"][0]["content"] == "account [CUSTOM_1] of [EMPLOYEE_1]"


async def test_pii_can_be_blocked_or_flagged_instead(make_gateway, echo):
    blocking = await make_gateway({**NO_MODEL, "actions": {"harassment": "off", "pii": "block"}})
    response = await blocking.chat("mail ann@example.com")
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["categories"] == ["pii"]
    flagging = await make_gateway({"actions": {"harassment": "off", "pii": "flag"}})
    response = await flagging.chat("mail ann@example.com")
    assert response.headers["x-moderation-flagged"] == "pii"
    assert "ann@example.com" in response.json()["choices"][0]["message"]["content"]


async def test_without_restore_the_answer_keeps_placeholders(make_gateway):
    gw = await make_gateway(NO_MODEL)
    response = await gw.chat("write to ann@example.com")
    assert response.json()["choices"][0]["message"]["content"] == "You said: write to [EMAIL_1]"


async def test_restore_puts_originals_back_in_a_plain_answer(make_gateway):
    gw = await make_gateway({**NO_MODEL, "restore_pii": True})
    response = await gw.chat(PROMPT)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "You said: " + PROMPT


async def test_restore_puts_originals_back_in_a_streamed_answer(make_gateway, stream_chat, assistant_text):
    gw = await make_gateway({**NO_MODEL, "restore_pii": True, "check_answer": False})
    events = await stream_chat(gw, PROMPT)
    assert assistant_text(events) == "You said: " + PROMPT
    assert events[-1] == "[DONE]"


# -- the restorer itself ----------------------------------------------------------------------


def vault_with(*pairs: tuple[str, str]) -> PiiVault:
    vault = PiiVault()
    for type_, value in pairs:
        vault.placeholder_for(type_, value)
    return vault


def test_a_placeholder_split_across_pieces_is_held_minimally():
    restorer = StreamRestorer(vault_with(("EMAIL", "a@b.co")))
    assert restorer.feed(0, "mail [EM") == "mail "
    assert restorer.feed(0, "AIL_") == ""
    assert restorer.feed(0, "1] now") == "a@b.co now"
    assert restorer.feed(0, "a [link](x)") == "a [link](x)"  # not a placeholder shape: not held


def test_unknown_placeholders_and_leftovers_pass_as_they_are():
    restorer = StreamRestorer(vault_with(("EMAIL", "a@b.co")))
    assert restorer.feed(0, "[PHONE_9] and [EMAIL") == "[PHONE_9] and "
    assert restorer.flush(0) == "[EMAIL"
    assert restorer.feed(1, "[EMAIL_1]") == "a@b.co"
