"""OpenTelemetry traces (``tracing``): one SERVER span per proxied request, a span per chain stage
and plugin step, a CLIENT span per upstream attempt, W3C ``traceparent`` in (only when trusted)
and out, and never a key, a body or a query string in a span (real gateway, real mock upstream,
spans caught by an in-memory exporter; the OTLP export checked against a local collector)."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import uuid
from typing import Any, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aiproxy_core import ConfigError, GatewayConfig
from aiproxy_core.tracing import tracing_for
from aiproxy_sdk import free_port

CLIENT_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_PARENT_ID = "00f067aa0ba902b7"
CLIENT_TRACEPARENT = f"00-{CLIENT_TRACE_ID}-{CLIENT_PARENT_ID}-01"


class Spans:
    """A provider whose finished spans are kept in memory, never the global provider."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def server(self) -> ReadableSpan:
        [span] = [s for s in self.all() if s.kind == SpanKind.SERVER]
        return span

    def clients(self) -> list[ReadableSpan]:
        return sorted((s for s in self.all() if s.kind == SpanKind.CLIENT), key=lambda s: s.start_time or 0)

    def named(self, name: str) -> ReadableSpan:
        [span] = [s for s in self.all() if s.name == name]
        return span


@pytest.fixture
def spans() -> Iterator[Spans]:
    caught = Spans()
    yield caught
    caught.provider.shutdown()


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _noop(ctx: Any, settings: Any) -> None:
    return None


async def test_a_request_is_one_trace_of_its_stages_steps_and_attempt(aiproxy_gateway_factory, plugin_maker, spans):
    watcher = plugin_maker("watch", pre_request=_noop, post_request=_noop, pre_response=_noop, post_response=_noop)
    gw = await aiproxy_gateway_factory(plugins={"watch": watcher}, chain=[{"name": "watch"}], tracer_provider=spans.provider)
    response = await gw.chat("Hello!")
    assert response.status_code == 200, response.text
    await gw.settle()

    server = spans.server()
    assert server.name == "POST /v1" and server.parent is None
    attributes = dict(server.attributes or {})
    assert attributes == {
        "http.request.method": "POST",
        "url.path": "/v1/chat/completions",
        "http.route": "/v1",
        "http.response.status_code": 200,
        "aiproxy.request_id": response.headers["x-request-id"],
        "aiproxy.tenant_id": gw.tenant["id"],
        "aiproxy.rule_id": gw.rule["id"],
        "aiproxy.key_id": gw.tenant["api_key_id"],
        "gen_ai.request.model": "mock-model",
        "gen_ai.response.model": "mock-model",
        "gen_ai.usage.input_tokens": 1,
        "gen_ai.usage.output_tokens": 3,
        "aiproxy.target": "0",
        "aiproxy.attempts": 1,
        "aiproxy.cost_usd": attributes["aiproxy.cost_usd"],
        "aiproxy.upstream_ms": attributes["aiproxy.upstream_ms"],
    }
    assert attributes["aiproxy.cost_usd"] > 0 and attributes["aiproxy.upstream_ms"] > 0
    assert server.status.status_code == StatusCode.UNSET

    trace_id = server.context.trace_id
    assert {s.context.trace_id for s in spans.all()} == {trace_id}
    for stage in ("pre_request", "post_request", "pre_response", "post_response"):
        stage_span = spans.named(stage)
        step = spans.named(f"watch.{stage}")
        assert stage_span.kind == SpanKind.INTERNAL and _parent_id(stage_span) == server.context.span_id
        assert stage_span.attributes["aiproxy.plugins"] == ("watch",)
        assert _parent_id(step) == stage_span.context.span_id
        assert (step.attributes["aiproxy.plugin"], step.attributes["aiproxy.hook"]) == ("watch", stage)
    # post_response runs after the answer: its span may end after the request's.
    assert spans.named("pre_response").end_time <= server.end_time

    [attempt] = spans.clients()
    assert attempt.name == "POST upstream" and _parent_id(attempt) == server.context.span_id
    assert dict(attempt.attributes or {}) == {
        "http.request.method": "POST",
        "aiproxy.target": "0",
        "aiproxy.attempt": 1,
        "server.address": "127.0.0.1",
        "server.port": attempt.attributes["server.port"],
        "http.response.status_code": 200,
    }
    assert len(spans.all()) == 1 + 4 + 4 + 1


async def test_a_stream_span_ends_after_the_stream_with_its_ttft_and_chunk_count(aiproxy_gateway_factory, plugin_maker, spans):
    def chunk_seen(ctx: Any, settings: Any, chunk: bytes) -> None:
        return None

    reader = plugin_maker("reader", pre_response=_noop, response_chunk=chunk_seen)
    gw = await aiproxy_gateway_factory(plugins={"reader": reader}, chain=[{"name": "reader"}], tracer_provider=spans.provider)
    payload = {"model": "mock-model", "messages": [{"role": "user", "content": "one two three"}], "stream": True, "stream_options": {"include_usage": True}}
    async with gw.proxy.stream("POST", "/v1/chat/completions", json=payload, headers={"X-Mock-Stream-Delay-Ms": "40"}) as response:
        text = (await response.aread()).decode()
    assert response.status_code == 200 and "[DONE]" in text
    server = spans.server()
    [attempt] = spans.clients()
    attributes = server.attributes or {}
    assert attributes["aiproxy.ttft_ms"] > 0
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (3, 5)
    assert attributes["aiproxy.response_chunk.chunks"] >= 3
    # The attempt ends at the upstream's head; the request span only once the stream is over.
    assert server.end_time - attempt.end_time >= 100_000_000  # ns: several 40 ms gaps between events
    assert "gen_ai.response.model" not in attributes  # a stream's answer is not parsed for it


async def test_failover_is_one_client_span_per_attempt(aiproxy_gateway_factory, aiproxy_mock_upstream, spans):
    dead = f"http://127.0.0.1:{free_port()}"
    rule = {
        "target": None,
        "targets": [{"url": dead, "name": "gone"}, {"url": aiproxy_mock_upstream, "name": "sick", "upstream_headers": {"X-Mock-Status": "503"}}, {"url": aiproxy_mock_upstream, "name": "well"}],
        "routing": {"strategy": "fallback", "retries": {"attempts": 2}},
    }
    gw = await aiproxy_gateway_factory(rule=rule, tracer_provider=spans.provider)
    response = await gw.chat()
    assert response.status_code == 200, response.text
    gone, sick, well = spans.clients()
    server = spans.server()
    assert [s.attributes["aiproxy.attempt"] for s in (gone, sick, well)] == [1, 2, 3]
    assert [s.attributes["aiproxy.target"] for s in (gone, sick, well)] == ["gone", "sick", "well"]
    assert (gone.attributes["error.type"], gone.attributes["aiproxy.failure_kind"]) == ("upstream_unreachable", "connect_error")
    assert gone.status.status_code == StatusCode.ERROR and "http.response.status_code" not in gone.attributes
    assert [e.name for e in gone.events] == ["exception"]
    assert (sick.attributes["http.response.status_code"], sick.attributes["error.type"], sick.attributes["aiproxy.failure_kind"]) == (503, "503", "status")
    assert well.attributes["http.response.status_code"] == 200 and "error.type" not in well.attributes
    assert {_parent_id(s) for s in (gone, sick, well)} == {server.context.span_id}
    assert (server.attributes["aiproxy.target"], server.attributes["aiproxy.attempts"]) == ("well", 3)
    assert server.status.status_code == StatusCode.UNSET


async def test_refused_requests_have_a_span_and_no_span_holds_a_secret(aiproxy_gateway_factory, spans):
    gw = await aiproxy_gateway_factory(tracer_provider=spans.provider)
    secrets = {"query": "QUERYSECRET123", "body": "BODYSECRET456", "key": "sk-KEYSECRET789", "header": "HEADERSECRET000"}
    wrong = gw.proxy_client(secrets["key"])
    refused = await wrong.post(f"/v1/chat/completions?key={secrets['query']}", json={"content": secrets["body"]})
    assert refused.status_code == 401
    server = spans.server()
    assert server.name == "POST" and server.status.status_code == StatusCode.ERROR
    attributes = server.attributes or {}
    assert (attributes["http.response.status_code"], attributes["error.type"], attributes["url.path"]) == (401, "invalid_api_key", "/v1/chat/completions")
    assert attributes["aiproxy.tenant_id"] == gw.tenant["id"] and "aiproxy.key_id" not in attributes

    spans.exporter.clear()
    sent = await gw.proxy.post(
        f"/v1/chat/completions?api_key={secrets['query']}",
        json={"model": "mock-model", "messages": [{"role": "user", "content": secrets["body"]}]},
        headers={"X-Custom": secrets["header"]},
    )
    assert sent.status_code == 200 and secrets["body"] in sent.text
    assert (await gw.proxy.get(f"/v1/echo?token={secrets['query']}", headers={"Authorization": f"Bearer {secrets['key']}"})).status_code == 401
    recorded = [
        str(value)
        for span in [*spans.all(), server]
        for value in [span.name, *(span.attributes or {}).values(), *(v for e in span.events for v in (e.attributes or {}).values())]
    ]
    assert len(spans.all()) == 3
    for secret in [*secrets.values(), gw.api_key, "api_key=", "Bearer", "You said"]:
        assert not any(secret in value for value in recorded), secret


async def test_a_failing_step_is_an_error_span_without_its_message(aiproxy_gateway_factory, plugin_maker, spans):
    def broken(ctx: Any, settings: Any) -> None:
        raise RuntimeError("SECRET-IN-MESSAGE")

    gw = await aiproxy_gateway_factory(
        plugins={"broken": plugin_maker("broken", pre_request=broken)}, chain=[{"name": "broken"}], tracer_provider=spans.provider
    )
    assert (await gw.chat()).status_code == 500
    step, stage, server = spans.named("broken.pre_request"), spans.named("pre_request"), spans.server()
    for span in (step, stage, server):
        assert span.status.status_code == StatusCode.ERROR and span.attributes["error.type"] == "plugin_error"
    assert [(e.name, dict(e.attributes or {})) for e in step.events] == [("exception", {"exception.type": "RuntimeError"})]
    assert "SECRET-IN-MESSAGE" not in repr([s.to_json() for s in spans.all()])
    assert spans.clients() == []


async def test_a_client_that_left_before_its_answer_is_a_499_span(aiproxy_gateway_factory, spans):
    gw = await aiproxy_gateway_factory(tracer_provider=spans.provider)
    headers = [(b"host", gw.host.encode()), (b"authorization", f"Bearer {gw.api_key}".encode()), (b"content-length", b"100")]
    scope = {
        "type": "http", "method": "POST", "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
        "query_string": b"", "headers": headers, "client": ("203.0.113.7", 40000), "scheme": "http",
    }  # fmt: skip
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}  # gone while the gateway waits for the body

    async def send(message: Any) -> None:
        sent.append(message)

    await gw.gateway.proxy_app(scope, receive, send)
    assert sent == []
    attributes = spans.server().attributes or {}
    assert (attributes["http.response.status_code"], attributes["aiproxy.client_disconnected"]) == (499, True)
    assert attributes["aiproxy.tenant_id"] == gw.tenant["id"] and spans.server().status.status_code == StatusCode.UNSET


async def test_an_untrusted_traceparent_starts_a_new_trace_and_the_upstream_gets_the_gateways(aiproxy_gateway_factory, spans):
    gw = await aiproxy_gateway_factory(tracer_provider=spans.provider)
    echoed = await gw.proxy.post("/v1/echo", json={}, headers={"traceparent": CLIENT_TRACEPARENT, "tracestate": "client=chosen"})
    assert echoed.status_code == 200
    server = spans.server()
    [attempt] = spans.clients()
    assert server.parent is None and f"{server.context.trace_id:032x}" != CLIENT_TRACE_ID
    seen = echoed.json()["headers"]
    assert seen["traceparent"].split("-")[:3] == ["00", f"{server.context.trace_id:032x}", f"{attempt.context.span_id:016x}"]
    assert "tracestate" not in seen  # the client's is dropped with its traceparent


@pytest.mark.parametrize(
    "config",
    [{"tracing": {"trust_incoming_traceparent": True}}, {"server": {"trusted_proxies": ["203.0.113.7/32"]}}],
    ids=["trust_incoming_traceparent", "trusted_proxy"],
)
async def test_a_trusted_traceparent_is_continued(aiproxy_gateway_factory, spans, config):
    gw = await aiproxy_gateway_factory(tracer_provider=spans.provider, config=config)
    echoed = await gw.proxy.post("/v1/echo", json={}, headers={"traceparent": CLIENT_TRACEPARENT})
    assert echoed.status_code == 200
    server = spans.server()
    [attempt] = spans.clients()
    assert f"{server.context.trace_id:032x}" == CLIENT_TRACE_ID and server.parent is not None
    assert f"{server.parent.span_id:016x}" == CLIENT_PARENT_ID and server.parent.is_remote
    assert echoed.json()["headers"]["traceparent"] == f"00-{CLIENT_TRACE_ID}-{attempt.context.span_id:016x}-01"  # sampled, as the caller asked


async def test_propagation_to_the_upstream_can_be_turned_off(aiproxy_gateway_factory, spans):
    gw = await aiproxy_gateway_factory(tracer_provider=spans.provider, config={"tracing": {"propagate_to_upstream": False}})
    echoed = await gw.proxy.post("/v1/echo", json={}, headers={"traceparent": CLIENT_TRACEPARENT})
    assert echoed.status_code == 200 and "traceparent" not in echoed.json()["headers"]
    assert len(spans.clients()) == 1


async def test_off_by_default_builds_no_tracer(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory()
    assert gw.gateway.config.tracing.enabled is False
    assert gw.gateway.tracing is None and gw.gateway.proxy_app.tracing is None
    echoed = await gw.proxy.post("/v1/echo", json={}, headers={"traceparent": CLIENT_TRACEPARENT})
    # Off, the gateway takes no part in tracing: a client's header passes like any other.
    assert echoed.json()["headers"]["traceparent"] == CLIENT_TRACEPARENT


def _without_opentelemetry(code: str, tmp_path: Any) -> subprocess.CompletedProcess[str]:
    blocked = "import sys\nsys.modules['opentelemetry'] = None\n"
    return subprocess.run([sys.executable, "-c", blocked + code], capture_output=True, text=True, timeout=60, cwd=tmp_path)


def test_the_core_runs_without_opentelemetry_installed(tmp_path):
    result = _without_opentelemetry(
        "from aiproxy_core import Gateway, GatewayConfig, PluginRegistry\n"
        "gateway = Gateway(GatewayConfig(), registry=PluginRegistry())\n"
        "print(gateway.tracing, sorted(m for m in sys.modules if m.startswith('opentelemetry.')))\n",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None []"


def test_enabled_without_the_packages_refuses_to_start_and_names_the_fix(tmp_path):
    result = _without_opentelemetry(
        "from aiproxy_core import ConfigError, Gateway, GatewayConfig, PluginRegistry\n"
        "try:\n"
        "    Gateway(GatewayConfig(tracing={'enabled': True}), registry=PluginRegistry())\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'aiproxy-core[tracing]'" in result.stdout and "tracing.enabled" in result.stdout


def test_otel_sdk_disabled_turns_it_off(monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing_for(GatewayConfig(tracing={"enabled": True}).tracing) is None


def test_unknown_tracing_keys_are_config_errors(tmp_path):
    from aiproxy_core import load_config

    path = tmp_path / "config.yaml"
    path.write_text("tracing: {enabled: true, exporter: zipkin}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "tracing.exporter" in str(error.value)


class _Collector(http.server.BaseHTTPRequestHandler):
    """A stand-in OTLP/HTTP collector: keeps each POST's path and body."""

    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    received: list[tuple[str, bytes]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


async def test_enabled_exports_with_otlp_http_as_the_otel_variables_say(aiproxy_gateway_factory, collector, monkeypatch):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    url, received = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{url}/v1/traces")
    for name in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SDK_DISABLED", "OTEL_TRACES_SAMPLER"):
        monkeypatch.delenv(name, raising=False)
    gw = await aiproxy_gateway_factory(config={"tracing": {"enabled": True}})
    assert gw.gateway.tracing is not None and gw.gateway.tracing.owns_provider
    assert (await gw.chat(headers={"X-Request-ID": f"otlp-{uuid.uuid4().hex[:8]}"})).status_code == 200
    await gw.gateway.stop()  # flushes the batch
    assert received and all(path == "/v1/traces" for path, _ in received)
    names: list[str] = []
    services: set[str] = set()
    for _, body in received:
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        for resource_spans in export.resource_spans:
            services |= {a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"}
            names += [span.name for scope in resource_spans.scope_spans for span in scope.spans]
    assert "POST /v1" in names and "POST upstream" in names
    assert services == {"aiproxy"}
