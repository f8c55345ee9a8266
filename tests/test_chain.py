"""The hook contract as a plugin author meets it: order, early answers, failures, stages."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

import pytest

from aiproxy_core import GatewayError, ProxyResponse, hookimpl
from aiproxy_sdk.stream_reading import stream_payloads, streamed_text


async def test_hook_pre_request_runs_in_priority_order_and_may_answer_early(aiproxy_gateway_factory, plugin_maker, plugin_log):
    first = plugin_maker("first", pre_request=lambda ctx, settings: None)
    answer = plugin_maker("answer", pre_request=lambda ctx: ProxyResponse.from_json({"cached": True}, headers={"x-from": "answer"}))
    never = plugin_maker("never", pre_request=lambda ctx: None)
    gw = await aiproxy_gateway_factory(
        plugins={"first": first, "answer": answer, "never": never},
        chain=[{"name": "never", "priority": 30}, {"name": "answer", "priority": 20}, {"name": "first", "priority": 10}],
    )
    response = await gw.chat("hi")
    assert response.status_code == 200
    assert response.json() == {"cached": True}
    assert response.headers["x-from"] == "answer"
    assert plugin_log == ["first.pre_request", "answer.pre_request"]


async def test_async_and_sync_hooks_both_run(aiproxy_gateway_factory, plugin_maker, plugin_log):
    async def slow(ctx):
        await asyncio.sleep(0)
        ctx.request.headers["x-async"] = "yes"

    def fast(ctx):
        ctx.request.headers["x-sync"] = "yes"

    gw = await aiproxy_gateway_factory(
        plugins={"a": plugin_maker("a", pre_request=slow), "s": plugin_maker("s", pre_request=fast)},
        chain=[{"name": "a"}, {"name": "s"}],
    )
    echoed = (await gw.proxy.post("/v1/echo", json={})).json()
    assert echoed["headers"]["x-async"] == "yes" and echoed["headers"]["x-sync"] == "yes"


async def test_pre_request_may_rewrite_the_json_body(aiproxy_gateway_factory, plugin_maker):
    def shout(ctx):
        body = ctx.request.json
        body["messages"][-1]["content"] = body["messages"][-1]["content"].upper()
        ctx.request.set_json(body)

    gw = await aiproxy_gateway_factory(plugins={"shout": plugin_maker("shout", pre_request=shout)}, chain=[{"name": "shout"}])
    response = await gw.chat("quiet please")
    assert response.json()["choices"][0]["message"]["content"] == "You said: QUIET PLEASE"


async def test_hook_post_request_sees_the_upstream_answer_and_may_replace_it(aiproxy_gateway_factory, plugin_maker):
    seen = {}

    def inspect_answer(ctx):
        seen["status"] = ctx.response.status
        seen["usage"] = ctx.response.json["usage"]
        return ProxyResponse.from_json({"replaced": True}, status=203)

    gw = await aiproxy_gateway_factory(plugins={"p": plugin_maker("p", post_request=inspect_answer)}, chain=[{"name": "p"}])
    response = await gw.chat("hi")
    assert seen == {"status": 200, "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}}
    assert response.status_code == 203 and response.json() == {"replaced": True}


async def test_hook_pre_response_changes_headers_of_upstream_and_early_answers(aiproxy_gateway_factory, plugin_maker):
    def stamp(ctx):
        ctx.response.headers["x-stamped"] = ctx.client_request_id

    def refuse(ctx):
        raise GatewayError("no", status=418, code="teapot")

    gw = await aiproxy_gateway_factory(plugins={"stamp": plugin_maker("stamp", pre_response=stamp)}, chain=[{"name": "stamp"}])
    response = await gw.chat("hi", headers={"X-Request-ID": "req-42"})
    assert response.headers["x-stamped"] == "req-42"

    gw2 = await aiproxy_gateway_factory(
        plugins={"stamp": plugin_maker("stamp", pre_response=stamp), "refuse": plugin_maker("refuse", pre_request=refuse)},
        chain=[{"name": "refuse"}, {"name": "stamp"}],
    )
    refused = await gw2.chat("hi", headers={"X-Request-ID": "req-43"})
    assert refused.status_code == 418
    assert refused.json()["error"]["code"] == "teapot"
    assert refused.headers["x-stamped"] == "req-43"


async def test_hook_post_response_runs_after_the_client_has_its_answer(aiproxy_gateway_factory, plugin_maker):
    release = asyncio.Event()
    done = asyncio.Event()
    seen = {}

    async def meter(ctx):
        await release.wait()  # would hang the request if post_response delayed the response
        seen["status"] = ctx.response.status
        seen["request_id"] = ctx.client_request_id
        seen["own_id"] = ctx.request_id
        done.set()

    gw = await aiproxy_gateway_factory(plugins={"meter": plugin_maker("meter", post_response=meter)}, chain=[{"name": "meter"}])
    response = await asyncio.wait_for(gw.chat("hi", headers={"X-Request-ID": "r-1"}), timeout=5)
    assert response.status_code == 200 and not done.is_set()
    release.set()
    await asyncio.wait_for(done.wait(), timeout=5)
    own_id = seen.pop("own_id")
    assert seen == {"status": 200, "request_id": "r-1"}
    # Metering keys on the gateway's own id, which the client did not choose.
    assert own_id != "r-1" and len(own_id) == 32


async def test_post_response_errors_are_not_shown_to_the_client(aiproxy_gateway_factory, plugin_maker):
    def broken(ctx):
        raise RuntimeError("metering aiproxy_backend down")

    gw = await aiproxy_gateway_factory(plugins={"broken_meter": plugin_maker("broken_meter", post_response=broken)}, chain=[{"name": "broken_meter"}])
    response = await gw.chat("hi")
    assert response.status_code == 200
    await gw.settle()  # post_response runs in the background
    health = (await gw.admin.get("/healthz")).json()
    assert health["post_response_failures"]["broken_meter"] >= 1


async def test_hook_response_chunk_sees_whole_sse_events_and_may_rewrite_them(aiproxy_gateway_factory, plugin_maker):
    events = []

    def upper(ctx, chunk):
        events.append(chunk)
        return chunk.replace(b"said", b"SAID")

    gw = await aiproxy_gateway_factory(plugins={"u": plugin_maker("u", response_chunk=upper)}, chain=[{"name": "u"}])
    response = await gw.chat("hello world", stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert all(e.endswith(b"\n\n") for e in events)
    assert streamed_text(stream_payloads(response.text)) == "You SAID: hello world"


async def test_a_failing_plugin_fails_closed_naming_the_plugin(aiproxy_gateway_factory, plugin_maker):
    def boom(ctx):
        raise ValueError("bug")

    gw = await aiproxy_gateway_factory(plugins={"boom": plugin_maker("boom", pre_request=boom)}, chain=[{"name": "boom"}])
    response = await gw.chat("hi")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "plugin_error" and "'boom'" in error["message"] and error["request_id"]
    assert "bug" not in error["message"]  # internals stay in the log


async def test_on_error_open_skips_a_failing_plugin(aiproxy_gateway_factory, plugin_maker):
    def boom(ctx):
        raise ValueError("bug")

    gw = await aiproxy_gateway_factory(plugins={"boom": plugin_maker("boom", pre_request=boom)}, chain=[{"name": "boom", "on_error": "open"}])
    assert (await gw.chat("hi")).status_code == 200


async def test_a_hook_returning_the_wrong_type_is_a_plugin_error(aiproxy_gateway_factory, plugin_maker):
    gw = await aiproxy_gateway_factory(plugins={"odd": plugin_maker("odd", pre_request=lambda ctx: "oops")}, chain=[{"name": "odd"}])
    response = await gw.chat("hi")
    assert response.status_code == 500 and "ProxyResponse" in response.json()["error"]["message"]


async def test_a_multi_stage_plugin_runs_in_each_stage_unless_narrowed(aiproxy_gateway_factory, plugin_maker, plugin_log):
    both = plugin_maker("both", pre_request=lambda ctx: None, post_request=lambda ctx: None)
    gw = await aiproxy_gateway_factory(plugins={"both": both}, chain=[{"name": "both"}])
    await gw.chat("hi")
    assert plugin_log == ["both.pre_request", "both.post_request"]
    plugin_log.clear()
    await gw.set_chain([{"name": "both", "stage": "pre_request"}])
    await gw.chat("hi")
    assert plugin_log == ["both.pre_request"]


async def test_required_plugins_run_on_every_rule_and_cannot_be_disabled(aiproxy_gateway_factory, plugin_maker, plugin_log):
    guard = plugin_maker("guard", pre_request=lambda ctx: None)
    gw = await aiproxy_gateway_factory(
        plugins={"guard": guard},
        tenant={"required_plugins": {"guard": {"priority": 1}}},
        chain=[{"name": "guard", "enabled": False}],
    )
    await gw.chat("hi")
    assert plugin_log == ["guard.pre_request"]


async def test_hook_settings_model_validates_settings_that_reach_hooks_as_the_model(aiproxy_gateway_factory, plugin_maker):
    class Settings(BaseModel):
        greeting: str = Field(min_length=1)
        times: int = 1

    seen = []
    plugin = plugin_maker("greet", settings_model=lambda: Settings, pre_request=lambda ctx, settings: seen.append(settings))
    gw = await aiproxy_gateway_factory(plugins={"greet": plugin}, chain=[{"name": "greet", "settings": {"greeting": "hi"}}])
    await gw.chat("x")
    assert seen == [Settings(greeting="hi", times=1)]


async def test_chains_are_rebuilt_when_the_rule_changes_not_per_request(aiproxy_gateway_factory, plugin_maker, plugin_log):
    gw = await aiproxy_gateway_factory(plugins={"p": plugin_maker("p", pre_request=lambda ctx: None)})
    view = await gw.gateway.tenants.resolve(gw.host)
    await gw.chat("one")
    assert await gw.gateway.tenants.resolve(gw.host) is view  # cached: no rebuild per request
    await gw.set_chain([{"name": "p"}])
    assert await gw.gateway.tenants.resolve(gw.host) is not view
    await gw.chat("two")
    assert plugin_log == ["p.pre_request"]


async def test_response_headers_set_early_reach_every_kind_of_response(aiproxy_gateway_factory, plugin_maker, aiproxy_mock_upstream):
    def mark(ctx):
        ctx.response_headers["x-quota"] = "7"

    gw = await aiproxy_gateway_factory(plugins={"mark": plugin_maker("mark", pre_request=mark)}, chain=[{"name": "mark", "stage": "pre_request"}])
    assert (await gw.chat("hi")).headers["x-quota"] == "7"
    failing = await gw.chat("hi", headers={"X-Mock-Status": "503"})
    assert failing.status_code == 503 and failing.headers["x-quota"] == "7"
    await gw.set_chain([{"name": "mark"}], timeout=0.1)
    timed_out = await gw.chat("hi", headers={"X-Mock-Latency-Ms": "1000"})
    assert timed_out.status_code == 504 and timed_out.headers["x-quota"] == "7"


class _Tally:
    """Counts what each of its chain entries saw, keyed by the entry's identity (``entry.index``)."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str, int, bool, str]] = []

    @hookimpl
    def pre_request(self, ctx, settings, entry):  # type: ignore[no-untyped-def]
        ctx.state[("tally", entry.index)] = settings.get("label") if isinstance(settings, dict) else None

    @hookimpl
    def post_response(self, ctx, entry):  # type: ignore[no-untyped-def]
        self.seen.append((entry.index, entry.plugin, entry.priority, entry.required, ctx.state[("tally", entry.index)]))


async def test_hook_pre_request_gets_its_entry_so_one_plugin_twice_in_a_chain_keeps_two_states(aiproxy_gateway_factory):
    tally = _Tally()
    gw = await aiproxy_gateway_factory(
        plugins={"tally": tally},
        chain=[{"name": "tally", "priority": 20, "settings": {"label": "second"}}, {"name": "tally", "priority": 10, "settings": {"label": "first"}}],
    )
    assert (await gw.chat("hi")).status_code == 200
    await gw.gateway.drain_background()
    assert sorted(tally.seen) == [(0, "tally", 10, False, "first"), (1, "tally", 20, False, "second")]
    assert (await gw.chat("again")).status_code == 200
    await gw.gateway.drain_background()
    assert sorted(tally.seen) == [(0, "tally", 10, False, "first")] * 2 + [(1, "tally", 20, False, "second")] * 2


async def test_an_async_registration_hook_that_must_be_plain_is_refused_naming_the_plugin():
    from aiproxy_core import PluginLoadError, PluginRegistry

    class AsyncModel:
        @hookimpl
        async def settings_model(self):  # type: ignore[no-untyped-def]
            return None

    registry = PluginRegistry()
    registry.register(AsyncModel(), "asyncmodel")
    with pytest.raises(PluginLoadError, match="asyncmodel.*settings_model must be a plain def"):
        registry.settings_model("asyncmodel")
