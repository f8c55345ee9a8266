"""response_schema and response_deny_patterns on whole (not streamed) answers.

The mock upstream answers "You said: <prompt>", so a prompt decides what the answer contains.
The prompt guard is off in these tests: only the response checks see the text.
"""

from __future__ import annotations

COMPLETION_SCHEMA = {
    "type": "object",
    "required": ["choices"],
    "properties": {"choices": {"type": "array", "minItems": 1, "items": {"required": ["message"]}}},
}
DENY = {"response_deny_patterns": [r"(?i)forbidden\s*word"]}


def rejected(response):
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "response_rejected"
    return error


async def test_a_matching_answer_passes(make_gateway):
    gw = await make_gateway({"response_schema": COMPLETION_SCHEMA})
    response = await gw.chat("hi")
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "You said: hi"


async def test_an_answer_violating_the_schema_is_rejected_without_its_content(make_gateway):
    schema = {"type": "object", "properties": {"choices": {"items": {"properties": {"message": {"properties": {"content": {"maxLength": 5}}}}}}}}
    gw = await make_gateway({"response_schema": schema})
    error = rejected(await gw.chat("a long and secret answer"))
    assert error["details"][0] == {
        "plugin": "content_validator",
        "check": "response_schema",
        "violations": [{"path": "$.choices[0].message.content", "keyword": "maxLength"}],
    }
    assert "secret" not in str(error)


async def test_a_schema_applies_to_any_json_answer(make_gateway):
    # The mock's catch-all answers a JSON object describing the request.
    assert (await (await make_gateway({"response_schema": {"type": "object"}})).proxy.post("/v1/echo")).status_code == 200
    gw = await make_gateway({"response_schema": {"type": "array"}})
    assert rejected(await gw.proxy.post("/v1/echo"))["details"][0]["violations"] == [{"path": "$", "keyword": "type"}]


async def test_a_non_json_answer_cannot_match_a_schema(make_gateway, custom_upstream):
    gw = await make_gateway({"response_schema": {"type": "object"}}, upstream_url=custom_upstream)
    assert rejected(await gw.proxy.post("/v1/text"))["details"][0]["check"] == "response_schema"


async def test_deny_patterns_read_a_plain_text_answer_whole(make_gateway, custom_upstream):
    gw = await make_gateway({"response_deny_patterns": ["words"]}, upstream_url=custom_upstream)
    rejected(await gw.proxy.post("/v1/text"))
    gw = await make_gateway({"response_deny_patterns": ["other"]}, upstream_url=custom_upstream)
    assert (await gw.proxy.post("/v1/text")).text == "just words"


async def test_deny_patterns_skip_json_without_assistant_text(make_gateway):
    # The echo's JSON holds the request body, but it is no completion: there is no answer text.
    gw = await make_gateway({"response_deny_patterns": ["forbiddenword"]})
    assert (await gw.proxy.post("/v1/echo", content=b"forbiddenword")).status_code == 200


async def test_a_clean_answer_passes_the_deny_list(make_gateway):
    gw = await make_gateway(DENY)
    assert (await gw.chat("please say something nice")).status_code == 200


async def test_a_denied_answer_is_replaced_with_502(make_gateway):
    gw = await make_gateway(DENY)
    error = rejected(await gw.chat("please say forbiddenword"))
    assert error["details"][0] == {"plugin": "content_validator", "check": "response_deny_patterns", "choice": 0, "pattern_index": 0}
    assert "forbiddenword" not in error["message"]


async def test_upstream_errors_are_passed_on_unchecked(make_gateway):
    gw = await make_gateway({"response_schema": {"type": "array"}, **DENY})
    response = await gw.chat("forbiddenword", headers={"X-Mock-Status": "429"})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "mock_error"


async def test_the_prompt_guard_and_response_checks_are_independent(make_gateway):
    # Same word, request side only: the answer echoing it is not a response violation.
    gw = await make_gateway({"deny_patterns": ["forbiddenword"]})
    assert (await gw.chat("please say forbiddenword")).json()["error"]["code"] == "prompt_denied"


# -- plain answers that arrive as a stream (chunked, no Content-Length) -----------------------


async def test_a_chunked_answer_is_held_and_checked(make_gateway, custom_upstream):
    gw = await make_gateway({**DENY, "response_schema": COMPLETION_SCHEMA}, upstream_url=custom_upstream)
    response = await gw.proxy.post("/v1/chunked", json={"say": "all good here, nothing to see"})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "all good here, nothing to see"
    assert response.headers["content-length"] == str(len(response.content))


async def test_a_chunked_denied_answer_is_rejected(make_gateway, custom_upstream):
    gw = await make_gateway(DENY, upstream_url=custom_upstream)
    rejected(await gw.proxy.post("/v1/chunked", json={"say": "here is the Forbidden Word you wanted"}))


async def test_a_chunked_answer_too_large_to_check_is_rejected(make_gateway, custom_upstream):
    gw = await make_gateway({**DENY, "max_response_bytes": 64}, upstream_url=custom_upstream)
    error = rejected(await gw.proxy.post("/v1/chunked", json={"say": "x" * 200}))
    assert error["details"][0]["check"] == "max_response_bytes"


async def test_without_response_checks_chunked_answers_still_stream(make_gateway, custom_upstream):
    gw = await make_gateway({"deny_patterns": ["nothing"]}, upstream_url=custom_upstream)
    response = await gw.proxy.post("/v1/chunked", json={"say": "hello"})
    assert response.status_code == 200
    assert "content-length" not in response.headers
