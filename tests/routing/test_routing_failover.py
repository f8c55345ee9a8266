"""Routing across a rule's targets: failover, retries with Retry-After, time to first token, no
retry once the answer began, and the envelope when every target failed (real mock upstream)."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import pytest

from aiproxy_sdk import free_port

FAILING = {"X-Mock-Status": "503"}


def target(url: str, name: str | None = None, **fields) -> dict:
    entry = {"url": url, **fields}
    if name is not None:
        entry["name"] = name
    return entry


async def routed_gateway(factory, upstream: str, targets: list[dict], routing: dict | None = None, **options):
    rule = {"target": None, "targets": targets}
    if routing is not None:
        rule["routing"] = routing
    return await factory(rule=rule, **options)


async def test_fallback_serves_from_the_next_target_and_says_which(aiproxy_gateway_factory, aiproxy_mock_upstream):
    gw = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [target(aiproxy_mock_upstream, "primary", upstream_headers=FAILING), target(aiproxy_mock_upstream, "backup")],
        {"strategy": "fallback"},
    )
    response = await gw.chat("Hello!")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "You said: Hello!"
    assert response.headers["x-aiproxy-target"] == "backup"
    assert response.headers["x-aiproxy-attempts"] == "2"


async def test_an_unreachable_target_fails_over(aiproxy_gateway_factory, aiproxy_mock_upstream):
    dead = f"http://127.0.0.1:{free_port()}"
    gw = await routed_gateway(aiproxy_gateway_factory, aiproxy_mock_upstream, [target(dead), target(aiproxy_mock_upstream)], {})
    response = await gw.chat()
    assert response.status_code == 200, response.text
    assert (response.headers["x-aiproxy-target"], response.headers["x-aiproxy-attempts"]) == ("1", "2")


async def test_every_target_failing_gives_the_envelope_of_the_last_failure_without_urls(aiproxy_gateway_factory, aiproxy_mock_upstream):
    dead = f"http://127.0.0.1:{free_port()}"
    gw = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [target(dead, "gone"), target(aiproxy_mock_upstream, "sick", upstream_headers=FAILING)],
        {"retries": {"attempts": 1}},
    )
    response = await gw.chat()
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_error"
    assert "'sick' answered 503" in error["message"] and "2 attempts" in error["message"]
    assert "127.0.0.1" not in response.text and "http" not in error["message"]
    assert response.headers["x-aiproxy-attempts"] == "2"

    # The last failure a connect error: 502 upstream_unreachable; a timeout: 504.
    gw2 = await routed_gateway(
        aiproxy_gateway_factory, aiproxy_mock_upstream, [target(aiproxy_mock_upstream, upstream_headers=FAILING), target(dead)], {"retries": {"attempts": 1}}
    )
    response = await gw2.chat()
    assert (response.status_code, response.json()["error"]["code"]) == (502, "upstream_unreachable")
    gw3 = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [target(aiproxy_mock_upstream, timeout=0.2, upstream_headers={"X-Mock-Latency-Ms": "2000"})],
        {"retries": {"attempts": 0}},
    )
    response = await gw3.chat()
    assert (response.status_code, response.json()["error"]["code"]) == (504, "upstream_timeout")


async def test_a_rule_without_routing_passes_the_upstream_answer_as_it_is(aiproxy_gateway_factory, aiproxy_mock_upstream):
    gw = await aiproxy_gateway_factory(rule={"upstream_headers": FAILING})
    response = await gw.chat()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "mock_error"  # the upstream's own body
    assert response.headers["x-aiproxy-attempts"] == "1"


async def test_retry_after_is_honoured_before_trying_a_target_again(aiproxy_gateway_factory, aiproxy_mock_upstream):
    headers = {"X-Mock-Status": "429", "X-Mock-Retry-After-Ms": "400", "X-Mock-Fail-Times": "1", "X-Mock-Fail-Key": uuid.uuid4().hex}
    gw = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [target(aiproxy_mock_upstream, upstream_headers=headers)],
        {"strategy": "single", "retries": {"attempts": 2, "backoff": 0}},
    )
    started = time.monotonic()
    response = await gw.chat()
    waited = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.headers["x-aiproxy-attempts"] == "2"
    assert waited >= 0.4, f"retried after {waited:.3f} s, before the upstream's retry-after-ms of 400"


async def test_a_retry_after_beyond_the_wait_budget_is_not_waited_for(aiproxy_gateway_factory, aiproxy_mock_upstream):
    headers = {"X-Mock-Status": "429", "X-Mock-Retry-After-Ms": "30000"}
    gw = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [target(aiproxy_mock_upstream, upstream_headers=headers)],
        {"strategy": "single", "retries": {"attempts": 3, "max_wait": 1}},
    )
    started = time.monotonic()
    response = await gw.chat()
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_rate_limited"
    assert response.headers["retry-after"] == "30"
    assert response.headers["x-aiproxy-attempts"] == "1"


async def test_no_retry_after_the_first_streamed_byte(aiproxy_gateway_factory, aiproxy_mock_upstream):
    gw = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [target(aiproxy_mock_upstream, "cut", upstream_headers={"X-Mock-Fault": "close-mid-stream"}), target(aiproxy_mock_upstream, "whole")],
        {},
    )
    payload = {"model": "mock-model", "messages": [{"role": "user", "content": "one two three four five"}], "stream": True}
    async with gw.proxy.stream("POST", "/v1/chat/completions", json=payload) as response:
        text = (await response.aread()).decode()
    assert response.status_code == 200
    assert response.headers["x-aiproxy-target"] == "cut" and response.headers["x-aiproxy-attempts"] == "1"
    assert "upstream_stream_interrupted" in text and "[DONE]" not in text


async def test_ttft_timeout_fails_a_silent_stream_over_before_any_byte_reached_the_client(aiproxy_gateway_factory, aiproxy_mock_upstream):
    gw = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [
            target(aiproxy_mock_upstream, "slow", upstream_headers={"X-Mock-First-Event-Delay-Ms": "3000"}),
            target(aiproxy_mock_upstream, "quick"),
        ],
        {"ttft_timeout": 0.3},
    )
    events = []
    payload = {"model": "mock-model", "messages": [{"role": "user", "content": "hello there"}], "stream": True}
    async with gw.proxy.stream("POST", "/v1/chat/completions", json=payload) as response:
        text = (await response.aread()).decode()
    assert response.status_code == 200
    assert (response.headers["x-aiproxy-target"], response.headers["x-aiproxy-attempts"]) == ("quick", "2")
    for line in text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            events.append(json.loads(line[6:]))
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"]) == "You said: hello there"
    assert text.rstrip().endswith("data: [DONE]")


async def test_a_stream_accepted_under_ttft_timeout_arrives_whole_when_its_events_come_apart(aiproxy_gateway_factory, aiproxy_mock_upstream):
    """The events after the first one come later (50 ms apart): they must still reach the client.
    (The first event's iterator was once left suspended and replaced by a second one; its
    finalizer then closed the connection, and the stream ended at once as interrupted.)"""
    gw = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [
            target(aiproxy_mock_upstream, "slow", upstream_headers={"X-Mock-First-Event-Delay-Ms": "3000"}),
            target(aiproxy_mock_upstream, "quick", upstream_headers={"X-Mock-Stream-Delay-Ms": "50"}),
        ],
        {"ttft_timeout": 0.5},
    )
    payload = {"model": "mock-model", "messages": [{"role": "user", "content": "one two three four"}], "stream": True}
    async with gw.proxy.stream("POST", "/v1/chat/completions", json=payload) as response:
        text = (await response.aread()).decode()
    assert (response.headers["x-aiproxy-target"], response.headers["x-aiproxy-attempts"]) == ("quick", "2")
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ") and line != "data: [DONE]"]
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices")) == "You said: one two three four", text
    assert text.rstrip().endswith("data: [DONE]"), text


async def test_a_plain_request_is_not_cut_by_the_ttft_timeout(aiproxy_gateway_factory, aiproxy_mock_upstream):
    """A non-streamed answer arrives whole at the end: time to first token does not apply."""
    gw = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [target(aiproxy_mock_upstream, upstream_headers={"X-Mock-Latency-Ms": "500"})],
        {"ttft_timeout": 0.1},
    )
    response = await gw.chat()
    assert response.status_code == 200, response.text


async def test_weights_three_to_one_give_three_quarters(aiproxy_gateway_factory, aiproxy_mock_upstream):
    gw = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [target(aiproxy_mock_upstream, "heavy", weight=3), target(aiproxy_mock_upstream, "light", weight=1)],
        {"strategy": "loadbalance"},
    )
    served: Counter[str] = Counter()
    for _ in range(2000):
        response = await gw.proxy.get("/v1/models")
        assert response.status_code == 200
        served[response.headers["x-aiproxy-target"]] += 1
    share = served["heavy"] / 2000
    assert 0.72 <= share <= 0.78, served


async def test_priority_groups_fall_back_in_order(aiproxy_gateway_factory, aiproxy_mock_upstream):
    gw = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [
            target(aiproxy_mock_upstream, "third", priority=2),
            target(aiproxy_mock_upstream, "first-a", priority=0, upstream_headers=FAILING),
            target(aiproxy_mock_upstream, "second", priority=1, upstream_headers=FAILING),
            target(aiproxy_mock_upstream, "first-b", priority=0, upstream_headers=FAILING),
        ],
        {"strategy": "loadbalance", "retries": {"attempts": 3}},
    )
    for _ in range(20):
        response = await gw.chat()
        assert response.status_code == 200, response.text
        assert (response.headers["x-aiproxy-target"], response.headers["x-aiproxy-attempts"]) == ("third", "4")


async def test_model_is_mapped_per_target(aiproxy_gateway_factory, aiproxy_mock_upstream):
    gw = await routed_gateway(aiproxy_gateway_factory, aiproxy_mock_upstream, [target(aiproxy_mock_upstream, model="mapped-model")])
    response = await gw.chat(model="client-model")
    assert response.status_code == 200
    assert response.json()["model"] == "mapped-model"


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_circuit_opens_after_failures_and_a_probe_closes_it(aiproxy_gateway_factory, aiproxy_mock_upstream, aiproxy_redis_prefix, backend):
    redis = {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix} if backend == "redis" else None
    recovering = {"X-Mock-Status": "503", "X-Mock-Fail-Times": "3", "X-Mock-Fail-Key": uuid.uuid4().hex}
    gw = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [target(aiproxy_mock_upstream, "flaky", upstream_headers=recovering), target(aiproxy_mock_upstream, "steady")],
        # 2 s: the four requests up to the check that the circuit is open must all fall within it,
        # even on a slow CI host.
        {"circuit_breaker": {"failures": 3, "window": 30, "cooldown": 2}},
        redis=redis,
    )
    for _ in range(3):
        response = await gw.chat()
        assert (response.status_code, response.headers["x-aiproxy-target"]) == (200, "steady")
    # Open: the flaky target is skipped, not tried first.
    response = await gw.chat()
    assert (response.headers["x-aiproxy-target"], response.headers["x-aiproxy-attempts"]) == ("steady", "1")
    shown = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/rules/{gw.rule['id']}/targets", headers=gw.tenant_auth)
    assert shown.status_code == 200
    flaky = shown.json()["data"][0]
    assert flaky["name"] == "flaky" and flaky["circuit"] == "open"
    assert "X-Mock" not in shown.text
    # After the cooldown one probe goes to it (it has recovered) and closes the circuit.
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        response = await gw.chat()
        assert response.status_code == 200
        if response.headers["x-aiproxy-target"] == "flaky":
            break
        await _sleep(0.1)
    assert response.headers["x-aiproxy-target"] == "flaky", "the circuit never let a probe through"
    shown = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/rules/{gw.rule['id']}/targets", headers=gw.tenant_auth)
    assert shown.json()["data"][0]["circuit"] == "closed"
    response = await gw.chat()
    assert response.headers["x-aiproxy-target"] == "flaky"


async def test_every_circuit_open_is_a_503_with_retry_after(aiproxy_gateway_factory, aiproxy_mock_upstream):
    gw = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [target(aiproxy_mock_upstream, upstream_headers=FAILING)],
        {"strategy": "single", "retries": {"attempts": 0}, "circuit_breaker": {"failures": 2, "cooldown": 7}},
    )
    assert [(await gw.chat()).status_code for _ in range(2)] == [502, 502]
    response = await gw.chat()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "no_target_available"
    assert response.headers["retry-after"] == "7"


async def test_lowest_latency_prefers_the_quicker_target(aiproxy_gateway_factory, aiproxy_mock_upstream):
    gw = await routed_gateway(
        aiproxy_gateway_factory,
        aiproxy_mock_upstream,
        [target(aiproxy_mock_upstream, "slow", upstream_headers={"X-Mock-Latency-Ms": "60"}), target(aiproxy_mock_upstream, "fast")],
        {"strategy": "lowest_latency"},
    )
    served: Counter[str] = Counter()
    for _ in range(40):
        served[(await gw.chat()).headers["x-aiproxy-target"]] += 1
    assert served["fast"] >= 35, served


async def test_conditions_route_on_model_header_plan_and_metadata(aiproxy_gateway_factory, aiproxy_mock_upstream):
    targets = [target(aiproxy_mock_upstream, name) for name in ("big", "gold", "pro", "eu", "rest")]
    routing = {
        "strategy": "conditional",
        "conditions": [
            {"match": {"model": "gpt-4o*"}, "targets": ["big"]},
            {"match": {"headers": {"X-Tier": "gold"}}, "targets": ["gold"]},
            {"match": {"plan": "pro"}, "targets": [2]},
            {"match": {"metadata": {"region": ["eu", "uk"]}}, "targets": ["eu"]},
        ],
        "default": ["rest"],
    }
    gw = await routed_gateway(aiproxy_gateway_factory, aiproxy_mock_upstream, targets, routing)
    assert (await gw.chat(model="gpt-4o-mini")).headers["x-aiproxy-target"] == "big"
    assert (await gw.chat(model="other", headers={"X-Tier": "gold"})).headers["x-aiproxy-target"] == "gold"
    assert (await gw.chat(model="other")).headers["x-aiproxy-target"] == "rest"
    tenant = gw.tenant["id"]
    for plan, metadata, expected in ((("pro"), {}, "pro"), (None, {"region": "uk"}, "eu"), (None, {"region": "us"}, "rest")):
        consumer = await gw.admin.post(
            f"/api/v1/tenants/{tenant}/consumers", headers=gw.tenant_auth, json={"name": "c", "plan_id": plan, "metadata": metadata}
        )
        assert consumer.status_code == 201, consumer.text
        key = await gw.admin.post(f"/api/v1/tenants/{tenant}/consumers/{consumer.json()['id']}/keys", headers=gw.tenant_auth, json={})
        assert key.status_code == 201, key.text
        client = gw.proxy_client(key.json()["key"])
        response = await client.post("/v1/chat/completions", json={"model": "other", "messages": [{"role": "user", "content": "x"}]})
        assert response.headers["x-aiproxy-target"] == expected, (plan, metadata)


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_plugins_read_target_attempts_and_cost_in_annotations(aiproxy_gateway_factory, aiproxy_mock_upstream, plugin_maker):
    seen: list[dict] = []
    meter = plugin_maker("meter", post_response=lambda ctx: seen.append(dict(ctx.annotations)))
    gw = await aiproxy_gateway_factory(
        plugins={"meter": meter},
        chain=[{"name": "meter"}],
        rule={"target": None, "targets": [target(aiproxy_mock_upstream, "sick", upstream_headers=FAILING), target(aiproxy_mock_upstream, "well")]},
    )
    response = await gw.chat(model="gpt-4o")
    await gw.settle()
    assert response.status_code == 200
    assert seen[-1]["target"] == "well"
    assert seen[-1]["cost"] == pytest.approx(float(response.headers["x-aiproxy-cost"]))


async def test_context_window_fallback_sends_a_long_prompt_to_a_bigger_model(aiproxy_gateway_factory, aiproxy_mock_upstream):
    small = target(aiproxy_mock_upstream, "small", model="small-model", upstream_headers={"X-Mock-Context-Window": "3"})
    big = target(aiproxy_mock_upstream, "big", model="big-model")
    retry_on = ["connect_error", "timeout", 429, "5xx", "context_window"]
    gw = await routed_gateway(aiproxy_gateway_factory, aiproxy_mock_upstream, [small, big], {"retries": {"retry_on": retry_on}})
    short = await gw.chat("one two")
    assert (short.status_code, short.headers["x-aiproxy-target"]) == (200, "small")
    long = await gw.chat("one two three four five")
    assert (long.status_code, long.headers["x-aiproxy-target"], long.headers["x-aiproxy-attempts"]) == (200, "big", "2")
    assert long.json()["model"] == "big-model"

    # Not asked for: the provider's own 400 reaches the client, as it said it.
    plain = await routed_gateway(aiproxy_gateway_factory, aiproxy_mock_upstream, [small, big], {})
    refused = await plain.chat("one two three four five")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "context_length_exceeded"
    # Asked for, but no bigger target left: the same 400, never a retry of the same target.
    alone = await routed_gateway(aiproxy_gateway_factory, aiproxy_mock_upstream, [small], {"retries": {"retry_on": retry_on}})
    refused = await alone.chat("one two three four five")
    assert refused.status_code == 400 and refused.headers["x-aiproxy-attempts"] == "1"


async def test_an_upstream_cannot_speak_for_the_gateway_in_its_headers(aiproxy_gateway_factory):
    """A target (the tenant's, or another gateway) that sends X-AIProxy-Cost or -Target: dropped,
    so the gateway's own are the only ones the client sees."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from aiproxy_sdk import ServerThread

    async def chat(request):
        body = {"model": "no-such-model", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
        return JSONResponse(body, headers={"X-AIProxy-Cost": "0.000001", "X-AIProxy-Target": "spoofed", "X-Other": "kept"})

    with ServerThread(Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])) as liar:
        gw = await aiproxy_gateway_factory(upstream_url=liar)
        response = await gw.chat()
    assert response.status_code == 200
    assert "x-aiproxy-cost" not in response.headers  # the model is unpriced: no cost, not the upstream's
    assert response.headers["x-aiproxy-target"] == "0" and response.headers["x-other"] == "kept"


async def test_a_streamed_answer_records_its_time_to_first_byte(aiproxy_gateway_factory, aiproxy_mock_upstream, plugin_maker):
    from aiproxy_core.state_keys import TTFT_MS

    seen: list[dict] = []
    meter = plugin_maker("meter", post_response=lambda ctx: seen.append(dict(ctx.annotations)))
    gw = await aiproxy_gateway_factory(
        plugins={"meter": meter}, chain=[{"name": "meter"}], rule={"upstream_headers": {"X-Mock-First-Event-Delay-Ms": "150"}}
    )
    await gw.chat_stream("one two")
    await gw.chat("one two")
    await gw.settle()
    assert seen[0][TTFT_MS] >= 150
    assert TTFT_MS not in seen[1]
