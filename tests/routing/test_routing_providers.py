"""Providers through real sockets with the official clients: the anthropic client to an
OpenAI-format upstream, the openai client to an Anthropic-format one (plain and streamed, with
tools), Azure OpenAI's URL and header shape, and the cost of each answer."""

from __future__ import annotations

import gzip
import json

import anthropic
import httpx
import openai
import pytest

from aiproxy_core import GatewayConfig
from aiproxy_sdk import LiveGateway, ServerThread

BASE_DOMAIN = "gateway.test"
TOOLS_OPENAI = [
    {
        "type": "function",
        "function": {
            "name": "search_docs",
            "description": "Search the documentation",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        },
    }
]
TOOLS_ANTHROPIC = [
    {
        "name": "search_docs",
        "description": "Search the documentation",
        "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    }
]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    config = {
        "server": {"base_domain": BASE_DOMAIN},
        "storage": {"path": str(tmp_path_factory.mktemp("providers") / "live.db")},
        "upstream": {"allowed_networks": ["127.0.0.1/32"]},
    }
    with LiveGateway(GatewayConfig.model_validate(config)) as gateway:
        yield gateway


_made = iter(range(1000))


def seed(live: LiveGateway, rule: dict, tenant: dict | None = None) -> tuple[str, str, dict]:
    subdomain = f"prov{next(_made)}"
    with httpx.Client(base_url=live.admin_url) as admin:
        created = admin.post("/api/v1/tenants", json={"name": subdomain, "subdomain": subdomain, **(tenant or {})})
        assert created.status_code == 201, created.text
        made = created.json()
        saved = admin.post(f"/api/v1/tenants/{made['id']}/rules", headers={"Authorization": f"Bearer {made['api_key']}"}, json={"path": "/v1", **rule})
        assert saved.status_code == 201, saved.text
    return f"{subdomain}.{BASE_DOMAIN}", made["api_key"], made


def openai_client(live: LiveGateway, host: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=live.proxy_url + "/v1", api_key=key, default_headers={"Host": host}, max_retries=0)


def anthropic_client(live: LiveGateway, host: str, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=live.proxy_url, api_key=key, default_headers={"Host": host}, max_retries=0)


def test_anthropic_client_to_an_openai_upstream_plain_and_streamed_with_tools(live, aiproxy_mock_upstream):
    host, key, _ = seed(
        live, {"client_format": "anthropic", "targets": [{"url": aiproxy_mock_upstream + "/v1", "provider": "openai", "model": "mock-model"}]}
    )
    client = anthropic_client(live, host, key)
    message = client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}],
    )
    assert message.content[0].type == "text" and message.content[0].text == "You said: Hello there"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens == 4

    with client.messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=100,
        tools=TOOLS_ANTHROPIC,
        messages=[{"role": "user", "content": "find routing docs"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    call = next(block for block in final.content if block.type == "tool_use")
    assert call.name == "search_docs" and call.input == {"query": "find routing docs"}

    # The tool's result goes back; the upstream answers in text again.
    answer = client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=100,
        tools=TOOLS_ANTHROPIC,
        messages=[
            {"role": "user", "content": "find routing docs"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "docs/routing.md"}]},
        ],
    )
    assert answer.stop_reason == "end_turn" and answer.content[0].type == "text"

    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "one two three"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "You said: one two three" and final.stop_reason == "end_turn"


def test_openai_client_to_an_anthropic_upstream_plain_and_streamed_with_tool_calls(live, aiproxy_mock_upstream):
    host, key, _ = seed(live, {"targets": [{"url": aiproxy_mock_upstream, "provider": "anthropic", "model": "claude-sonnet-4-5"}]})
    client = openai_client(live, host, key)
    completion = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    )
    assert completion.choices[0].message.content == "You said: Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 4

    stream = client.chat.completions.create(
        model="gpt-4o", tools=TOOLS_OPENAI, stream=True, messages=[{"role": "user", "content": "find routing docs"}]
    )
    name, arguments, finish = "", "", None
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or ():
                name += call.function.name or "" if call.function else ""
                arguments += call.function.arguments or "" if call.function else ""
            finish = choice.finish_reason or finish
    assert (name, json.loads(arguments), finish) == ("search_docs", {"query": "find routing docs"}, "tool_calls")

    plain = client.chat.completions.create(
        model="gpt-4o", tools=TOOLS_OPENAI, messages=[{"role": "user", "content": "find routing docs"}]
    )
    call = plain.choices[0].message.tool_calls[0]
    followed = client.chat.completions.create(
        model="gpt-4o",
        tools=TOOLS_OPENAI,
        messages=[
            {"role": "user", "content": "find routing docs"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "docs/routing.md"},
        ],
    )
    assert followed.choices[0].finish_reason == "stop"

    chunks = list(client.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "one two three"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "You said: one two three"


def test_an_anthropic_upstream_error_reaches_the_openai_client_in_its_shape(live, aiproxy_mock_upstream):
    host, key, _ = seed(
        live, {"targets": [{"url": aiproxy_mock_upstream, "provider": "anthropic", "upstream_headers": {"X-Mock-Status": "400"}}]}
    )
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client(live, host, key).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert raised.value.status_code == 400


def test_azure_openai_deployment_url_and_api_key(live, aiproxy_mock_upstream):
    deployment = aiproxy_mock_upstream + "/openai/deployments/gpt-4o-prod"
    host, key, _ = seed(live, {"targets": [{"url": deployment, "provider": "azure_openai", "upstream_headers": {"api-key": "azure-key-1"}}]})
    completion = openai_client(live, host, key).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hello"}])
    assert completion.choices[0].message.content == "You said: Hello"
    # Without the api-key header Azure (and the mock) refuse: the shape matters.
    host, key, _ = seed(live, {"targets": [{"url": deployment, "provider": "azure_openai"}]})
    with pytest.raises(openai.AuthenticationError):
        openai_client(live, host, key).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hello"}])


def test_cost_header_stream_usage_and_tenant_prices(live, aiproxy_mock_upstream):
    host, key, _ = seed(live, {"targets": [{"url": aiproxy_mock_upstream}]})
    client = openai_client(live, host, key)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": "Hello there"}])
    completion = raw.parse()
    usage = completion.usage
    # gpt-4o in the core's table: $2.50 in, $10 out per million tokens.
    expected = usage.prompt_tokens * 2.5e-6 + usage.completion_tokens * 10e-6
    assert float(raw.headers["x-aiproxy-cost"]) == pytest.approx(expected)
    assert raw.headers["x-aiproxy-target"] == "0" and raw.headers["x-aiproxy-attempts"] == "1"

    chunks = list(
        client.chat.completions.create(
            model="gpt-4o", stream=True, stream_options={"include_usage": True}, messages=[{"role": "user", "content": "Hello there"}]
        )
    )
    final = chunks[-1]
    assert final.usage is not None and final.usage.model_extra["cost"] == pytest.approx(expected)

    # A tenant's own price wins over the table's.
    host, key, _ = seed(live, {"targets": [{"url": aiproxy_mock_upstream}]}, tenant={"model_prices": {"gpt-4o": {"input": 1000, "output": 0}}})
    raw = openai_client(live, host, key).chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    assert float(raw.headers["x-aiproxy-cost"]) == pytest.approx(raw.parse().usage.prompt_tokens * 1000e-6)
    # An unknown model has no cost, and says nothing rather than a guess.
    raw = client.chat.completions.with_raw_response.create(model="no-such-model", messages=[{"role": "user", "content": "Hi"}])
    assert "x-aiproxy-cost" not in raw.headers


def test_a_cut_translated_stream_is_never_complete_for_either_client(live, aiproxy_mock_upstream):
    cut = {"X-Mock-Fault": "close-mid-stream"}
    host, key, _ = seed(
        live, {"client_format": "anthropic", "targets": [{"url": aiproxy_mock_upstream + "/v1", "provider": "openai", "upstream_headers": cut}]}
    )
    with pytest.raises(anthropic.APIError) as raised:
        with anthropic_client(live, host, key).messages.stream(
            model="m", max_tokens=50, messages=[{"role": "user", "content": "one two three four five six"}]
        ) as stream:
            stream.get_final_message()
    assert "stopped before the answer was complete" in str(raised.value)

    # The same upstream cut, untranslated, for the openai client.
    host, key, _ = seed(live, {"targets": [{"url": aiproxy_mock_upstream, "upstream_headers": cut}]})
    with pytest.raises(openai.APIError):
        list(openai_client(live, host, key).chat.completions.create(model="m", stream=True, messages=[{"role": "user", "content": "a b c d e"}]))


@pytest.mark.parametrize("encoding, provider", [("gzip", None), ("gzip", "anthropic"), ("identity", None)])
def test_a_compressed_answer_passes_through_unread(live, encoding, provider):
    """A ``Content-Encoding`` other than identity: the gateway reads nothing of the answer (no
    cost, no translation: an Anthropic target's answer is not turned into OpenAI's shape), and the
    client gets the upstream's bytes as they were; ``identity`` is read as plain JSON."""
    answer = json.dumps({"model": "gpt-4o", "choices": [], "usage": {"prompt_tokens": 1000, "completion_tokens": 0}}).encode()
    sent = gzip.compress(answer) if encoding == "gzip" else answer

    async def upstream(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", b"application/json"), (b"Content-Encoding", encoding.encode()), (b"content-length", str(len(sent)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": sent})

    with ServerThread(upstream) as url:
        host, key, _ = seed(live, {"targets": [{"url": url, **({"provider": provider} if provider else {})}]})
        with httpx.Client(base_url=live.proxy_url, headers={"Host": host, "Authorization": f"Bearer {key}"}) as client:
            with client.stream("POST", "/v1/chat/completions", json={"model": "gpt-4o", "max_tokens": 16, "messages": [{"role": "user", "content": "Hello"}]}) as reply:
                raw = b"".join(reply.iter_raw())
    assert reply.status_code == 200 and raw == sent
    assert reply.headers["content-encoding"] == encoding
    if encoding == "gzip":
        assert "x-aiproxy-cost" not in reply.headers
    else:  # gpt-4o: $2.50 per million input tokens
        assert float(reply.headers["x-aiproxy-cost"]) == pytest.approx(1000 * 2.5e-6)
