"""request_schema, allowed_models, max_tokens_cap (refuse or clamp), max_messages, max_message_chars."""

from __future__ import annotations

import json

CHAT_SCHEMA = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        "model": {"type": "string"},
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {"role": {"enum": ["system", "user", "assistant"]}},
            },
        },
        "user": {"type": "string", "format": "email"},
    },
}


def error_of(response, status=400):
    assert response.status_code == status, response.text
    return response.json()["error"]


# -- request_schema ---------------------------------------------------------------------------


async def test_a_body_matching_the_schema_passes(make_gateway):
    gw = await make_gateway({"request_schema": CHAT_SCHEMA})
    response = await gw.chat("hi")
    assert response.status_code == 200, response.text


async def test_a_violation_names_path_and_message(make_gateway):
    gw = await make_gateway({"request_schema": CHAT_SCHEMA})
    response = await gw.proxy.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "root", "content": "x"}]})
    error = error_of(response)
    assert error["code"] == "schema_violation"
    assert "$.messages[0].role" in error["message"]
    assert "'root' is not one of" in error["message"]
    assert error["details"][0]["check"] == "request_schema"
    assert error["details"][0]["violations"] == [
        {"path": "$.messages[0].role", "keyword": "enum", "message": "'root' is not one of ['system', 'user', 'assistant']"}
    ]


async def test_every_violation_is_listed(make_gateway):
    gw = await make_gateway({"request_schema": CHAT_SCHEMA})
    error = error_of(await gw.proxy.post("/v1/chat/completions", json={"messages": []}))
    paths = sorted((v["path"], v["keyword"]) for v in error["details"][0]["violations"])
    assert paths == [("$", "required"), ("$.messages", "minItems")]


async def test_formats_are_asserted(make_gateway):
    gw = await make_gateway({"request_schema": CHAT_SCHEMA})
    assert error_of(await gw.chat("hi", user="not-an-email"))["details"][0]["violations"][0]["keyword"] == "format"
    assert (await gw.chat("hi", user="a@example.com")).status_code == 200


async def test_a_huge_offending_value_is_not_echoed_whole(make_gateway):
    gw = await make_gateway({"request_schema": {"properties": {"model": {"type": "integer"}}}})
    error = error_of(await gw.chat("hi", model="m" * 5000))
    assert len(error["message"]) < 400


async def test_bodiless_requests_are_not_checked(make_gateway):
    gw = await make_gateway({"request_schema": CHAT_SCHEMA, "allowed_models": ["x"]})
    assert (await gw.proxy.get("/v1/models")).status_code == 200


async def test_a_body_that_is_not_json_is_refused(make_gateway):
    gw = await make_gateway({"request_schema": CHAT_SCHEMA})
    error = error_of(await gw.proxy.post("/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"}))
    assert error["code"] == "invalid_json"


# -- allowed_models ---------------------------------------------------------------------------


async def test_an_allowed_model_passes(make_gateway):
    gw = await make_gateway({"allowed_models": ["mock-model", "gpt-4o-mini"]})
    assert (await gw.chat("hi")).status_code == 200


async def test_another_model_is_refused(make_gateway):
    gw = await make_gateway({"allowed_models": ["gpt-4o-mini"]})
    error = error_of(await gw.chat("hi", model="gpt-4o"))
    assert error["code"] == "model_not_allowed"
    assert error["details"][0] == {
        "plugin": "content_validator", "check": "allowed_models", "model": "gpt-4o", "allowed": ["gpt-4o-mini"]
    }


async def test_a_missing_model_is_refused(make_gateway):
    gw = await make_gateway({"allowed_models": ["gpt-4o-mini"]})
    response = await gw.proxy.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert error_of(response)["code"] == "model_not_allowed"


async def test_a_body_that_is_not_an_object_is_refused(make_gateway):
    gw = await make_gateway({"allowed_models": ["mock-model"]})
    assert error_of(await gw.proxy.post("/v1/chat/completions", json=["mock-model"]))["code"] == "invalid_body"


# -- max_tokens_cap ---------------------------------------------------------------------------


async def test_a_budget_within_the_cap_passes(make_gateway):
    gw = await make_gateway({"max_tokens_cap": 100})
    assert (await gw.chat("hi", max_tokens=100)).status_code == 200
    assert (await gw.chat("hi")).status_code == 200  # no budget named: not limited


async def test_a_budget_over_the_cap_is_refused(make_gateway):
    gw = await make_gateway({"max_tokens_cap": 100})
    error = error_of(await gw.chat("hi", max_tokens=101))
    assert error["code"] == "max_tokens_exceeded"
    assert error["details"][0]["field"] == "max_tokens"
    assert error["details"][0]["cap"] == 100
    error = error_of(await gw.chat("hi", max_completion_tokens=5000))
    assert error["details"][0]["field"] == "max_completion_tokens"


async def test_a_budget_that_is_not_an_integer_is_refused(make_gateway):
    gw = await make_gateway({"max_tokens_cap": 100})
    for value in ("99999", 1.5, True):
        assert error_of(await gw.chat("hi", max_tokens=value))["code"] == "invalid_max_tokens"


async def test_clamping_lowers_the_budget_sent_upstream(make_gateway):
    gw = await make_gateway({"max_tokens_cap": 2, "clamp_max_tokens": True})
    response = await gw.chat("one two three four", max_tokens=50)
    assert response.status_code == 200, response.text
    # The mock answers one word per token: two words prove the upstream got max_tokens=2.
    choice = response.json()["choices"][0]
    assert choice["message"]["content"] == "You said:"
    assert choice["finish_reason"] == "length"


async def test_clamping_leaves_a_small_budget_alone(make_gateway):
    gw = await make_gateway({"max_tokens_cap": 50, "clamp_max_tokens": True})
    sent = b'{ "max_tokens" : 10, "messages": [] }'
    response = await gw.proxy.post("/v1/echo", content=sent, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json()["body"] == sent.decode()  # byte for byte: not re-serialized


async def test_clamping_rewrites_both_names(make_gateway):
    gw = await make_gateway({"max_tokens_cap": 50, "clamp_max_tokens": True})
    response = await gw.proxy.post("/v1/echo", json={"max_tokens": 60, "max_completion_tokens": 70, "model": "m"})
    assert json.loads(response.json()["body"]) == {"max_tokens": 50, "max_completion_tokens": 50, "model": "m"}


# -- max_messages / max_message_chars ---------------------------------------------------------


def conversation(*texts):
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]


async def test_message_count_within_limit_passes(make_gateway):
    gw = await make_gateway({"max_messages": 3})
    response = await gw.proxy.post("/v1/chat/completions", json={"model": "m", "messages": conversation("a", "b", "c")})
    assert response.status_code == 200


async def test_too_many_messages_are_refused(make_gateway):
    gw = await make_gateway({"max_messages": 3})
    response = await gw.proxy.post("/v1/chat/completions", json={"model": "m", "messages": conversation("a", "b", "c", "d")})
    error = error_of(response)
    assert error["code"] == "too_many_messages"
    assert error["details"][0]["count"] == 4


async def test_message_chars_within_limit_pass(make_gateway):
    gw = await make_gateway({"max_message_chars": 5})
    assert (await gw.chat("12345")).status_code == 200


async def test_a_long_message_is_refused_whatever_its_role(make_gateway):
    gw = await make_gateway({"max_message_chars": 5})
    messages = [{"role": "system", "content": "x" * 6}, {"role": "user", "content": "hi"}]
    error = error_of(await gw.proxy.post("/v1/chat/completions", json={"model": "m", "messages": messages}))
    assert error["code"] == "message_too_long"
    assert error["details"][0]["where"] == "messages[0]"


async def test_message_chars_count_the_text_of_parts(make_gateway):
    gw = await make_gateway({"max_message_chars": 5})
    content = [{"type": "text", "text": "abc"}, {"type": "image_url", "image_url": {"url": "data:..."}}, {"type": "text", "text": "def"}]
    response = await gw.proxy.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": content}]})
    assert error_of(response)["code"] == "message_too_long"


async def test_malformed_messages_are_refused_not_skipped(make_gateway):
    gw = await make_gateway({"max_messages": 3})
    response = await gw.proxy.post("/v1/chat/completions", json={"model": "m", "messages": "hello"})
    error = error_of(response)
    assert error["code"] == "invalid_body"
    assert error["details"][0]["check"] == "messages"
