"""The JSON access log (``logging.access_log_format: json``): one line per proxied request, with
ids, timings, tokens and cost, and never a key, a body or a query string (real gateway, real mock
upstream, and ``aiproxy serve`` as a process)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import pytest

from aiproxy_core import ConfigError, load_config
from aiproxy_core.server.uvicorn_configs import listener_configs
from aiproxy_sdk import free_port
from aiproxy_sdk.harness import CLIENT_IP
from aiproxy_sdk.processes import GatewayProcess

JSON_LOG = {"logging": {"access_log": True, "access_log_format": "json"}}

FIELDS = {
    "time", "request_id", "client_request_id", "tenant_id", "rule_id", "consumer_id", "key_id", "method", "path", "status",
    "duration_ms", "upstream_ms", "target", "attempts", "model", "input_tokens", "output_tokens", "cost", "interrupted",
    "client_ip", "error_code",
}


@pytest.fixture
def access_lines(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.INFO, logger="aiproxy.access")

    def lines() -> list[dict[str, Any]]:
        parsed = [json.loads(r.getMessage()) for r in caplog.records if r.name == "aiproxy.access"]
        for line in parsed:
            assert set(line) == FIELDS
        return parsed

    return lines


async def test_a_200_is_one_line_with_its_fields(aiproxy_gateway_factory, access_lines):
    gw = await aiproxy_gateway_factory(config=JSON_LOG)
    response = await gw.chat("Hello!", headers={"X-Request-ID": "trace-1"})
    assert response.status_code == 200, response.text
    [line] = access_lines()
    assert len(line["request_id"]) == 32 and line["client_request_id"] == "trace-1"
    key_id = gw.tenant["api_key_id"]
    assert (line["tenant_id"], line["rule_id"], line["key_id"], line["consumer_id"]) == (gw.tenant["id"], gw.rule["id"], key_id, None)
    assert key_id not in gw.api_key
    assert (line["method"], line["path"], line["status"]) == ("POST", "/v1/chat/completions", 200)
    assert (line["target"], line["attempts"], line["model"]) == ("0", 1, "mock-model")
    assert (line["input_tokens"], line["output_tokens"]) == (1, 3)
    assert (line["interrupted"], line["error_code"], line["client_ip"]) == (None, None, CLIENT_IP)
    assert 0 < line["upstream_ms"] <= line["duration_ms"] < 10_000
    assert line["time"].endswith("Z") and len(line["time"]) == len("2025-01-01T00:00:00.000Z")


async def test_a_failed_over_request_names_the_target_that_answered(aiproxy_gateway_factory, aiproxy_mock_upstream, access_lines):
    dead = f"http://127.0.0.1:{free_port()}"
    gw = await aiproxy_gateway_factory(rule={"target": None, "targets": [{"url": dead}, {"url": aiproxy_mock_upstream}]}, config=JSON_LOG)
    response = await gw.chat()
    assert response.status_code == 200, response.text
    [line] = access_lines()
    assert (line["status"], line["target"], line["attempts"]) == (200, "1", 2)
    assert line["upstream_ms"] is not None and line["input_tokens"] == 1


async def test_refused_requests_are_logged_with_what_is_known(aiproxy_gateway_factory, access_lines):
    gw = await aiproxy_gateway_factory(config=JSON_LOG)
    wrong = gw.proxy_client("sk-not-a-real-key")
    assert (await wrong.post("/v1/chat/completions", json={"model": "m"})).status_code == 401
    stranger = httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.gateway.proxy_app), base_url="http://nobody.gateway.test")
    async with stranger:
        assert (await stranger.get("/v1/models")).status_code == 404
    refused, unknown = access_lines()
    assert (refused["status"], refused["error_code"], refused["tenant_id"]) == (401, "invalid_api_key", gw.tenant["id"])
    assert (refused["key_id"], refused["rule_id"], refused["target"], refused["attempts"], refused["model"]) == (None, None, None, None, None)
    assert (unknown["status"], unknown["error_code"], unknown["tenant_id"], unknown["path"]) == (404, "tenant_not_found", None, "/v1/models")
    assert unknown["request_id"] and unknown["duration_ms"] >= 0
    # Refused before a request context existed: the address still comes from the connection.
    assert refused["client_ip"] == "203.0.113.7" and unknown["client_ip"] == "127.0.0.1"


async def test_a_stream_logs_the_tokens_of_its_final_usage(aiproxy_gateway_factory, access_lines):
    gw = await aiproxy_gateway_factory(config=JSON_LOG)
    events = await gw.chat_stream("one two three", stream_options={"include_usage": True})
    assert events[-1] == "[DONE]"
    [line] = access_lines()
    assert (line["status"], line["input_tokens"], line["output_tokens"], line["interrupted"]) == (200, 3, 5, None)
    assert line["model"] == "mock-model"


async def test_no_key_query_or_body_ever_reaches_the_log(aiproxy_gateway_factory, access_lines, caplog):
    gw = await aiproxy_gateway_factory(config=JSON_LOG)
    secrets = {"query": "QUERYSECRET123", "body": "BODYSECRET456", "key": "sk-KEYSECRET789", "header": "HEADERSECRET000"}
    sent = await gw.proxy.post(
        f"/v1/chat/completions?api_key={secrets['query']}",
        json={"model": "mock-model", "messages": [{"role": "user", "content": secrets["body"]}]},
        headers={"X-Custom": secrets["header"]},
    )
    assert sent.status_code == 200 and secrets["body"] in sent.text
    wrong = gw.proxy_client(secrets["key"])
    assert (await wrong.post(f"/v1/chat/completions?key={secrets['query']}", json={"content": secrets["body"]})).status_code == 401
    by_header = gw.proxy_client(headers={"x-api-key": secrets["key"]})
    assert (await by_header.get("/v1/models")).status_code == 401
    assert len(access_lines()) == 3
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "aiproxy.access")
    for secret in [*secrets.values(), gw.api_key, "api_key=", "You said"]:
        assert secret not in logged


def test_aiproxy_serve_prints_parseable_json_lines(tmp_path):
    with GatewayProcess({**JSON_LOG, "storage": {"path": str(tmp_path / "a.db")}}, workdir=tmp_path) as process:
        for path in ("/v1/models", "/v1/chat/completions"):
            response = httpx.get(process.proxy_url + path + "?token=QUERYSECRET", headers={"Host": "nobody.localhost"})
            assert response.status_code == 404
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.log.read_text().count('"request_id"') < 2:
            time.sleep(0.05)
    lines = [json.loads(line) for line in process.log.read_text().splitlines() if line.startswith("{")]
    assert [(line["path"], line["status"], line["error_code"]) for line in lines] == [
        ("/v1/models", 404, "tenant_not_found"),
        ("/v1/chat/completions", 404, "tenant_not_found"),
    ]
    text = process.log.read_text()
    assert "QUERYSECRET" not in text and '"GET /v1/models' not in text  # uvicorn's own line is off for the Proxy listener


async def test_the_plain_format_keeps_uvicorns_line_and_writes_no_json(aiproxy_gateway_factory, access_lines):
    gw = await aiproxy_gateway_factory(config={"logging": {"access_log": True}})
    assert gw.gateway.config.logging.access_log_format == "plain" and gw.gateway.proxy_app.access_log is None
    admin, proxy = listener_configs(gw.gateway, log_level="info", access_log=True)
    assert admin.access_log and proxy.access_log
    assert (await gw.chat()).status_code == 200
    assert access_lines() == []

    json_gw = await aiproxy_gateway_factory(config=JSON_LOG)
    admin, proxy = listener_configs(json_gw.gateway, log_level="info", access_log=True)
    assert admin.access_log and not proxy.access_log


async def test_off_by_default(aiproxy_gateway_factory, access_lines):
    gw = await aiproxy_gateway_factory()
    assert gw.gateway.proxy_app.access_log is None
    assert (await gw.chat()).status_code == 200
    assert access_lines() == []


def test_an_unknown_format_is_a_clear_config_error(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("logging: {access_log: true, access_log_format: xml}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "logging.access_log_format" in str(error.value) and "'plain' or 'json'" in str(error.value)


async def test_a_failing_log_line_never_breaks_the_request(aiproxy_gateway_factory, access_lines, monkeypatch):
    import aiproxy_core.proxy.access_log as access_log

    def broken(milliseconds: Any) -> float:
        raise RuntimeError("the log broke")

    monkeypatch.setattr(access_log, "_rounded", broken)
    gw = await aiproxy_gateway_factory(config=JSON_LOG)
    response = await gw.chat()
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "You said: Hello!"
    assert access_lines() == []
