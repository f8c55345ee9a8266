"""The mock upstream must look like OpenAI to both raw HTTP and the official client."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from starlette.applications import Starlette

from aiproxy_core.mock_upstream import create_mock_upstream


def client_for(app: Starlette) -> httpx.AsyncClient:
    """An in-process client: no sockets, so these tests stay fast and isolated."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_mock_upstream()) as c:
        yield c


def sse_payloads(text: str) -> list[str]:
    """The data fields of a server-sent event stream, in order."""
    events = [e for e in text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    return [e[len("data: ") :] for e in events]


def user_chat(text: Any, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-test", "messages": [{"role": "user", "content": text}], **extra}


async def test_chat_completion_shape(client: httpx.AsyncClient) -> None:
    body = {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": "hello there"},
        ],
    }
    r = await client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200
    data = r.json()
    assert data["id"].startswith("chatcmpl-")
    assert data["object"] == "chat.completion"
    assert isinstance(data["created"], int)
    assert data["model"] == "gpt-test"
    choice = data["choices"][0]
    assert choice["index"] == 0
    assert choice["message"] == {"role": "assistant", "content": "You said: hello there"}
    assert choice["finish_reason"] == "stop"
    # 2 + 2 + 2 + 2 prompt words; "You said: hello there" is 4 words.
    assert data["usage"] == {"prompt_tokens": 8, "completion_tokens": 4, "total_tokens": 12}


async def test_chat_content_parts_and_default_model(client: httpx.AsyncClient) -> None:
    parts = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}, {"type": "text", "text": "here"}]
    r = await client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": parts}]})
    data = r.json()
    assert data["model"] == "mock-model"
    assert data["choices"][0]["message"]["content"] == "You said: look here"
    assert data["usage"]["prompt_tokens"] == 2


async def test_chat_max_tokens_truncates(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=user_chat("one two three four", max_tokens=3))
    data = r.json()
    assert data["choices"][0]["message"]["content"] == "You said: one"
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 3


async def test_chat_max_tokens_not_reached_is_stop(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=user_chat("hi", max_tokens=50))
    assert r.json()["choices"][0]["finish_reason"] == "stop"


async def test_chat_invalid_max_tokens_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=user_chat("hi", max_tokens="ten"))
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


async def test_chat_stream(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=user_chat("stream me please", stream=True))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(r.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    words = [c["choices"][0]["delta"]["content"] for c in chunks[1:-2]]
    assert len(words) == 5
    assert "".join(words) == "You said: stream me please"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}


async def test_chat_stream_truncated_by_max_tokens(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=user_chat("a b c d", stream=True, max_tokens=2))
    chunks = [json.loads(p) for p in sse_payloads(r.text)[:-1]]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks[1:-2]) == "You said:"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 2


async def test_stream_delay_header_slows_stream(client: httpx.AsyncClient) -> None:
    start = time.perf_counter()
    r = await client.post(
        "/v1/chat/completions", json=user_chat("x", stream=True), headers={"X-Mock-Stream-Delay-Ms": "20"}
    )
    elapsed = time.perf_counter() - start
    # 6 events (role, 3 words, finish, usage) + [DONE] means 6 gaps of 20 ms.
    assert len(sse_payloads(r.text)) == 7
    assert elapsed >= 0.11


async def test_embeddings_string_and_list(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/embeddings", json={"model": "emb", "input": "hello world"})
    assert r.status_code == 200
    data = r.json()
    assert data["object"] == "list"
    assert data["model"] == "emb"
    assert data["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    vector = data["data"][0]["embedding"]
    assert data["data"][0]["object"] == "embedding"
    assert len(vector) == 16
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-9)

    r = await client.post("/v1/embeddings", json={"input": ["hello world", "other", "hello world"]})
    data = r.json()
    assert [d["index"] for d in data["data"]] == [0, 1, 2]
    assert data["data"][0]["embedding"] == vector
    assert data["data"][2]["embedding"] == vector
    assert data["data"][1]["embedding"] != vector
    assert data["usage"]["prompt_tokens"] == 5


async def test_embeddings_bad_input_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/embeddings", json={"input": 42})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


async def test_models(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/models")
    assert r.status_code == 200
    data = r.json()
    assert data["object"] == "list"
    assert data["data"] == [
        {"id": "mock-model", "object": "model", "created": data["data"][0]["created"], "owned_by": "aiproxy-mock"}
    ]


async def test_echo_reflects_request(client: httpx.AsyncClient) -> None:
    r = await client.put(
        "/some/where?a=1&b=two",
        content=b"raw payload",
        headers={"X-Custom-Header": "Value", "Authorization": "Bearer sk-upstream"},
    )
    assert r.status_code == 200
    data = r.json()
    assert data["method"] == "PUT"
    assert data["path"] == "/some/where"
    assert data["query"] == "a=1&b=two"
    assert data["headers"]["x-custom-header"] == "Value"
    assert data["headers"]["authorization"] == "Bearer sk-upstream"
    assert data["body"] == "raw payload"


async def test_echo_catches_other_methods_on_known_paths(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/chat/completions")
    assert r.status_code == 200
    assert r.json()["method"] == "GET"
    r = await client.delete("/v1/models")
    assert (r.json()["method"], r.json()["path"]) == ("DELETE", "/v1/models")


@pytest.mark.parametrize("status", [429, 503, 401])
async def test_forced_status(client: httpx.AsyncClient, status: int) -> None:
    r = await client.post("/v1/chat/completions", json=user_chat("hi"), headers={"X-Mock-Status": str(status)})
    assert r.status_code == status
    error = r.json()["error"]
    assert error["code"] == "mock_error"
    assert error["message"] == "injected error"


async def test_forced_500_envelope(client: httpx.AsyncClient) -> None:
    r = await client.get("/anything", headers={"X-Mock-Status": "500"})
    assert r.status_code == 500
    assert r.json() == {"error": {"type": "server_error", "code": "mock_error", "message": "injected error"}}


async def test_bad_mock_header_is_400(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/models", headers={"X-Mock-Status": "teapot"})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


async def test_error_rate_one_always_fails() -> None:
    async with client_for(create_mock_upstream(error_rate=1.0, seed=1)) as c:
        for _ in range(5):
            r = await c.post("/v1/chat/completions", json=user_chat("hi"))
            assert r.status_code == 500
            assert r.json()["error"] == {"type": "server_error", "code": "mock_error", "message": "injected error"}


async def test_error_rate_is_reproducible_with_seed() -> None:
    async def statuses() -> list[int]:
        async with client_for(create_mock_upstream(error_rate=0.5, seed=42)) as c:
            return [(await c.get("/v1/models")).status_code for _ in range(20)]

    first = await statuses()
    assert first == await statuses()
    assert set(first) == {200, 500}


async def test_latency_header_delays_response(client: httpx.AsyncClient) -> None:
    start = time.perf_counter()
    r = await client.get("/v1/models", headers={"X-Mock-Latency-Ms": "50"})
    assert r.status_code == 200
    assert time.perf_counter() - start >= 0.045


async def test_latency_setting_delays_response() -> None:
    async with client_for(create_mock_upstream(latency_ms=40)) as c:
        start = time.perf_counter()
        await c.get("/v1/models")
        assert time.perf_counter() - start >= 0.035


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/embeddings"])
@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b"", b"\xff\xfe"])
async def test_malformed_json_is_400(client: httpx.AsyncClient, path: str, payload: bytes) -> None:
    r = await client.post(path, content=payload, headers={"content-type": "application/json"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]


async def test_chat_without_messages_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json={"model": "m"})
    assert r.status_code == 400


def test_invalid_settings_rejected() -> None:
    with pytest.raises(ValueError):
        create_mock_upstream(error_rate=1.5)
    with pytest.raises(ValueError):
        create_mock_upstream(latency_ms=-1)


@pytest.fixture
def live_port() -> Iterator[int]:
    """Serve the mock on a real socket so the official client talks to it over TCP."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_mock_upstream(), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "mock upstream did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_official_openai_client(live_port: int) -> None:
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{live_port}/v1", api_key="x", max_retries=0)
    try:
        completion = client.chat.completions.create(
            model="gpt-live", messages=[{"role": "user", "content": "hello live world"}]
        )
        assert completion.choices[0].message.content == "You said: hello live world"
        assert completion.model == "gpt-live"
        assert completion.usage is not None and completion.usage.total_tokens == 3 + 5

        chunks = list(
            client.chat.completions.create(
                model="gpt-live", messages=[{"role": "user", "content": "stream it"}], stream=True
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "You said: stream it"
        assert chunks[-1].choices == []
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == 4

        embedding = client.embeddings.create(model="emb", input="hello")
        assert len(embedding.data[0].embedding) == 16
        assert math.isclose(sum(v * v for v in embedding.data[0].embedding), 1.0, rel_tol=1e-5)

        with pytest.raises(openai.RateLimitError):
            client.models.list(extra_headers={"X-Mock-Status": "429"})
    finally:
        client.close()


# -- fault modes (what routing's retries, failover and time-to-first-token timeouts are tested with)


async def test_a_forced_error_says_when_to_retry(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=user_chat("hi"), headers={"X-Mock-Status": "429", "X-Mock-Retry-After-Ms": "1500"})
    assert r.status_code == 429 and r.headers["retry-after"] == "2" and r.headers["retry-after-ms"] == "1500"
    plain = await client.post("/v1/chat/completions", json=user_chat("hi"), headers={"X-Mock-Status": "503"})
    assert "retry-after" not in plain.headers and "retry-after-ms" not in plain.headers


async def test_an_unknown_fault_is_400_not_ignored(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=user_chat("hi", stream=True), headers={"X-Mock-Fault": "explode"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_mock_header"
    assert "close-mid-stream" in r.json()["error"]["message"]


def test_a_slow_first_event_comes_after_the_headers(live_port: int) -> None:
    with httpx.Client(timeout=10) as client:
        start = time.perf_counter()
        with client.stream("POST", f"http://127.0.0.1:{live_port}/v1/chat/completions", json=user_chat("one two", stream=True),
                           headers={"X-Mock-First-Event-Delay-Ms": "800"}) as r:
            headers_at = time.perf_counter() - start
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            lines = r.iter_lines()
            first = next(line for line in lines if line)
            first_at = time.perf_counter() - start
            rest = [line for line in lines if line]
    assert first_at >= 0.79 and headers_at < first_at - 0.4  # the headers at once, the first event 0.8 s later
    assert first.startswith("data: {") and rest[-1] == "data: [DONE]"


def test_close_mid_stream_cuts_the_answer_without_an_end(live_port: int) -> None:
    with httpx.Client(timeout=10) as client:
        with client.stream("POST", f"http://127.0.0.1:{live_port}/v1/chat/completions", json=user_chat("one two three", stream=True),
                           headers={"X-Mock-Fault": "close-mid-stream"}) as r:
            assert r.status_code == 200
            received: list[str] = []
            with pytest.raises(httpx.RemoteProtocolError):  # the chunked body never ends properly
                for line in r.iter_lines():
                    if line:
                        received.append(line)
    assert len(received) == 2 and all(line.startswith("data: {") for line in received)
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{live_port}/v1", api_key="x", max_retries=0,
                           default_headers={"X-Mock-Fault": "close-mid-stream"})
    try:
        with pytest.raises(openai.APIError):  # the official client does not take it for a whole answer
            for _ in client.chat.completions.create(model="m", messages=[{"role": "user", "content": "a b c"}], stream=True):
                pass
    finally:
        client.close()


# -- Anthropic mode: /v1/messages, through the official anthropic client over TCP


def anthropic_client(port: int, **headers: str) -> Any:
    import anthropic

    return anthropic.Anthropic(base_url=f"http://127.0.0.1:{port}", api_key="x", max_retries=0, default_headers=headers or None)


def test_anthropic_client_plain_and_streamed(live_port: int) -> None:
    client = anthropic_client(live_port)
    try:
        message = client.messages.create(
            model="claude-live", max_tokens=50, system="be brief", messages=[{"role": "user", "content": "hello live world"}]
        )
        assert message.content[0].type == "text" and message.content[0].text == "You said: hello live world"
        assert message.model == "claude-live" and message.stop_reason == "end_turn"
        assert message.usage.input_tokens == 5 and message.usage.output_tokens == 5  # 3 words + the system's 2; 5 answered
        with client.messages.stream(model="m", max_tokens=3, messages=[{"role": "user", "content": [{"type": "text", "text": "one two three"}]}]) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text == "You said: one" and final.stop_reason == "max_tokens" and final.usage.output_tokens == 3
    finally:
        client.close()


def test_anthropic_client_tool_use_plain_and_streamed(live_port: int) -> None:
    client = anthropic_client(live_port)
    tools = [{"name": "lookup", "description": "look it up", "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}]
    asked = [{"role": "user", "content": "weather in Oslo"}]
    try:
        message = client.messages.create(model="m", max_tokens=50, tools=tools, messages=asked)  # type: ignore[arg-type]
        (call,) = message.content
        assert message.stop_reason == "tool_use" and call.type == "tool_use"
        assert call.name == "lookup" and call.input == {"query": "weather in Oslo"}
        with client.messages.stream(model="m", max_tokens=50, tools=tools, messages=asked) as stream:  # type: ignore[arg-type]
            streamed = stream.get_final_message()
        assert streamed.stop_reason == "tool_use" and streamed.content[0].input == {"query": "weather in Oslo"}
        answered = asked + [
            {"role": "assistant", "content": [{"type": "tool_use", "id": call.id, "name": "lookup", "input": call.input}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}, {"type": "text", "text": "thanks"}]},
        ]
        after = client.messages.create(model="m", max_tokens=50, tools=tools, messages=answered)  # type: ignore[arg-type]
        assert after.stop_reason == "end_turn" and after.content[0].text == "You said: thanks"
    finally:
        client.close()


def test_anthropic_client_sees_injected_errors_as_its_own_exceptions(live_port: int) -> None:
    import anthropic

    for status, error in ((429, anthropic.RateLimitError), (529, anthropic.InternalServerError), (400, anthropic.BadRequestError)):
        client = anthropic_client(live_port, **{"X-Mock-Status": str(status), "X-Mock-Retry-After-Ms": "1000"})
        try:
            with pytest.raises(error) as raised:
                client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
            assert raised.value.status_code == status and raised.value.response.headers["retry-after"] == "1"
        finally:
            client.close()
    bad = httpx.post(f"http://127.0.0.1:{live_port}/v1/messages", json={"model": "m", "messages": []})
    assert bad.status_code == 400 and bad.json()["type"] == "error" and "max_tokens" in bad.json()["error"]["message"]


def test_openai_client_tool_calls_plain_and_streamed(live_port: int) -> None:
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{live_port}/v1", api_key="x", max_retries=0)
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}]
    asked = [{"role": "user", "content": "weather in Oslo"}]
    try:
        plain = client.chat.completions.create(model="m", messages=asked, tools=tools)  # type: ignore[arg-type]
        (call,) = plain.choices[0].message.tool_calls or []
        assert plain.choices[0].finish_reason == "tool_calls" and plain.choices[0].message.content is None
        assert call.function.name == "lookup" and json.loads(call.function.arguments) == {"query": "weather in Oslo"}
        name, arguments, finish = "", "", None
        for chunk in client.chat.completions.create(model="m", messages=asked, tools=tools, stream=True):  # type: ignore[arg-type]
            for choice in chunk.choices:
                for delta in choice.delta.tool_calls or []:
                    name += delta.function.name or "" if delta.function else ""
                    arguments += delta.function.arguments or "" if delta.function else ""
                finish = choice.finish_reason or finish
        assert name == "lookup" and json.loads(arguments) == {"query": "weather in Oslo"} and finish == "tool_calls"
        answered = asked + [
            {"role": "assistant", "content": None, "tool_calls": [{"id": call.id, "type": "function", "function": {"name": "lookup", "arguments": call.function.arguments}}]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
            {"role": "user", "content": "thanks"},
        ]
        after = client.chat.completions.create(model="m", messages=answered, tools=tools)  # type: ignore[arg-type]
        assert after.choices[0].finish_reason == "stop" and after.choices[0].message.content == "You said: thanks"
    finally:
        client.close()


async def test_fail_times_fails_the_first_requests_of_a_key_then_answers(client: httpx.AsyncClient) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    headers = {"X-Mock-Status": "503", "X-Mock-Fail-Times": "2", "X-Mock-Fail-Key": "k1"}
    statuses = [(await client.post("/v1/chat/completions", json=body, headers=headers)).status_code for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    other = {**headers, "X-Mock-Fail-Key": "k2"}
    assert (await client.post("/v1/chat/completions", json=body, headers=other)).status_code == 503
    bad = await client.post("/v1/chat/completions", json=body, headers={**headers, "X-Mock-Fail-Times": "two"})
    assert bad.status_code == 400 and "X-Mock-Fail-Times" in bad.text


async def test_azure_deployment_route_wants_api_version_and_key(client: httpx.AsyncClient) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    path = "/openai/deployments/prod/chat/completions"
    assert (await client.post(path, json=body, headers={"api-key": "k"})).status_code == 404
    assert (await client.post(path + "?api-version=2024-10-21", json=body)).status_code == 401
    answer = await client.post(path + "?api-version=2024-10-21", json=body, headers={"api-key": "k"})
    assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == "You said: hi"


async def test_context_window_refuses_a_prompt_too_long_as_each_provider_does(client: httpx.AsyncClient) -> None:
    long = {"messages": [{"role": "user", "content": "one two three four"}], "max_tokens": 5}
    headers = {"X-Mock-Context-Window": "3"}
    refused = await client.post("/v1/chat/completions", json=long, headers=headers)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "context_length_exceeded"
    anthropic_refused = await client.post("/v1/messages", json={**long, "model": "m"}, headers=headers)
    assert anthropic_refused.status_code == 400 and "prompt is too long" in anthropic_refused.json()["error"]["message"]
    short = {"messages": [{"role": "user", "content": "one two"}]}
    assert (await client.post("/v1/chat/completions", json=short, headers=headers)).status_code == 200
    assert (await client.post("/v1/chat/completions", json=short, headers={"X-Mock-Context-Window": "x"})).status_code == 400
