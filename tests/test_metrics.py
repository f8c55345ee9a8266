"""``GET /metrics`` on the Admin listener: parsed with prometheus_client's own parser, its counts
checked against the requests sent (real gateway and mock upstream; ``aiproxy serve --workers 2``
on Redis as a real process)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiproxy_core import MetricReading, RateLimited, hookimpl
from aiproxy_sdk import free_port
from aiproxy_sdk.processes import GatewayProcess

ADMIN_TOKEN = "metrics-admin-token-0123456789"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample by (name, labels); the parser refuses a malformed exposition."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def total(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in found.items() if n == name and wanted <= have)


async def scrape(gw: Any, **headers: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await gw.admin.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


async def test_counts_latencies_tokens_and_cost_match_the_requests_sent(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory()
    tenant, rule = gw.tenant["id"], gw.rule["id"]
    for _ in range(5):
        assert (await gw.chat(model="gpt-4o-2024-08-06")).status_code == 200
    for _ in range(3):
        assert (await gw.chat(model="mock-model", headers={"X-Mock-Status": "503"})).status_code == 503
    await gw.chat_stream()
    found = await scrape(gw)
    ok = {"tenant": tenant, "rule": rule, "gen_ai_request_model": "gpt-4o", "status_class": "2xx"}
    assert value(found, "aiproxy_requests_total", **ok) == 5
    assert value(found, "aiproxy_requests_total", **{**ok, "gen_ai_request_model": "mock-model", "status_class": "5xx"}) == 3
    assert value(found, "aiproxy_requests_total", **{**ok, "gen_ai_request_model": "mock-model"}) == 1  # the stream
    assert value(found, "gen_ai_server_request_duration_seconds_count", **ok) == 5
    assert value(found, "gen_ai_client_operation_duration_seconds_count", **ok) == 5
    assert value(found, "aiproxy_gateway_overhead_seconds_count", **ok) == 5
    assert value(found, "gen_ai_server_request_duration_seconds_bucket", **ok, le="+Inf") == 5
    # The mock reports 1 input and 3 output tokens per answer (the stream's too).
    assert value(found, "gen_ai_client_token_usage_sum", **ok, gen_ai_token_type="input") == 5
    assert value(found, "gen_ai_client_token_usage_sum", **ok, gen_ai_token_type="output") == 15
    assert value(found, "gen_ai_client_token_usage_count", **ok, gen_ai_token_type="output") == 5
    # gpt-4o: 2.50 in, 10.00 out per 1M tokens.
    assert value(found, "aiproxy_cost_usd_total", **ok) == pytest.approx(5 * (1 * 2.5 + 3 * 10.0) / 1e6)
    streamed = {**ok, "gen_ai_request_model": "mock-model"}
    assert value(found, "gen_ai_server_time_to_first_token_seconds_count", **streamed) == 1
    assert value(found, "gen_ai_server_time_to_first_token_seconds_count", **ok) is None  # plain answers have none
    assert value(found, "aiproxy_build_info", version=gw.gateway.metrics.version) == 1
    assert value(found, "aiproxy_metrics_processes") == 1


class TwoPerTest:
    """Lets two requests through, then refuses as a rate limiter does (429 ``rate_limited``)."""

    def __init__(self) -> None:
        self.seen = 0

    @hookimpl
    def pre_request(self, ctx: Any) -> None:
        self.seen += 1
        if self.seen > 2:
            raise RateLimited("two requests per test", headers={"retry-after": "60"})


async def test_refused_requests_are_counted_by_code_and_rate_limits_apart(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(plugins={"two": TwoPerTest()}, chain=[{"name": "two"}])
    tenant, rule = gw.tenant["id"], gw.rule["id"]
    statuses = [(await gw.chat()).status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    wrong = gw.proxy_client("sk-not-a-real-key")
    assert (await wrong.post("/v1/chat/completions", json={"model": "m"})).status_code == 401
    stranger = httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.gateway.proxy_app), base_url="http://nobody.gateway.test")
    async with stranger:
        assert (await stranger.get("/v1/models")).status_code == 404
    found = await scrape(gw)
    assert value(found, "aiproxy_rate_limited_total", tenant=tenant, rule=rule) == 2
    assert value(found, "aiproxy_gateway_errors_total", tenant=tenant, rule=rule, code="rate_limited") == 2
    # Refused before a rule matched: the tenant is known, the rule is not; an unknown host has neither.
    assert value(found, "aiproxy_gateway_errors_total", tenant=tenant, rule="", code="invalid_api_key") == 1
    assert value(found, "aiproxy_gateway_errors_total", tenant="", rule="", code="tenant_not_found") == 1
    assert value(found, "aiproxy_requests_total", tenant="", rule="", gen_ai_request_model="", status_class="4xx") == 1
    assert total(found, "aiproxy_requests_total", tenant=tenant) == 5


async def test_a_client_cannot_grow_the_model_label_without_bound(aiproxy_gateway_factory, aiproxy_mock_upstream):
    gw = await aiproxy_gateway_factory(rule={"target": None, "targets": [{"url": aiproxy_mock_upstream, "model": "house-model"}]})
    tenant = gw.tenant["id"]
    for _ in range(30):
        assert (await gw.chat(model=f"gpt-4o-{uuid.uuid4().hex}")).status_code == 200  # resolves to gpt-4o's price
        assert (await gw.chat(model=uuid.uuid4().hex)).status_code == 200
    assert (await gw.chat(model="house-model")).status_code == 200
    found = await scrape(gw)
    models = {dict(labels)["gen_ai_request_model"] for name, labels in found if name == "aiproxy_requests_total" and ("tenant", tenant) in labels}
    assert models == {"gpt-4o", "other", "house-model"}
    assert total(found, "aiproxy_requests_total", tenant=tenant, gen_ai_request_model="other") == 30


async def test_a_model_label_follows_an_edited_rule(aiproxy_gateway_factory, aiproxy_mock_upstream):
    # The series a request counts in is looked up from a cache of earlier requests' labels: an
    # edited rule (a new object) must not keep the label its old targets gave.
    gw = await aiproxy_gateway_factory(rule={"target": None, "targets": [{"url": aiproxy_mock_upstream, "model": "house-model"}]})
    for _ in range(3):
        assert (await gw.chat(model="house-model")).status_code == 200
    await gw.set_chain([], targets=[{"url": aiproxy_mock_upstream, "model": "other-house-model"}])
    for _ in range(2):
        assert (await gw.chat(model="house-model")).status_code == 200
    found = await scrape(gw)
    tenant = gw.tenant["id"]
    assert total(found, "aiproxy_requests_total", tenant=tenant, gen_ai_request_model="house-model") == 3
    assert total(found, "aiproxy_requests_total", tenant=tenant, gen_ai_request_model="other") == 2


async def test_label_sets_beyond_max_series_are_counted_together(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(config={"metrics": {"max_series": 2}})
    for model in ("gpt-4o", "gpt-4o-mini", "o3", "gpt-4.1"):
        assert (await gw.chat(model=model)).status_code == 200
    found = await scrape(gw)
    series = [labels for name, labels in found if name == "aiproxy_requests_total"]
    assert len(series) == 3  # two, and "other" for the rest
    assert value(found, "aiproxy_requests_total", tenant="other", rule="other", gen_ai_request_model="other", status_class="other") == 2
    assert total(found, "aiproxy_requests_total") == 4


async def test_labels_are_configurable_and_consumer_is_opt_in(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(config={"metrics": {"labels": ["tenant", "consumer"]}})
    consumer = (await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/consumers", headers=gw.tenant_auth, json={"name": "Ada"})).json()
    key = (await gw.admin.post(f"/api/v1/tenants/{gw.tenant['id']}/consumers/{consumer['id']}/keys", headers=gw.tenant_auth, json={})).json()
    client = gw.proxy_client(key["key"])
    assert (await client.post("/v1/chat/completions", json={"model": "mock-model", "messages": []})).status_code == 200
    found = await scrape(gw)
    assert value(found, "aiproxy_requests_total", tenant=gw.tenant["id"], consumer=consumer["id"]) == 1
    text = (await gw.admin.get("/metrics")).text
    assert key["key"] not in text and gw.api_key not in text


async def test_circuit_state_of_routed_targets(aiproxy_gateway_factory, aiproxy_mock_upstream):
    dead = f"http://127.0.0.1:{free_port()}"
    routing = {"strategy": "fallback", "retries": {"attempts": 2}, "circuit_breaker": {"failures": 2, "cooldown": 60}}
    gw = await aiproxy_gateway_factory(
        rule={"target": None, "targets": [{"url": dead, "name": "dead"}, {"url": aiproxy_mock_upstream, "name": "live"}], "routing": routing}
    )
    for _ in range(3):
        assert (await gw.chat()).status_code == 200
    found = await scrape(gw)
    labels = {"tenant": gw.tenant["id"], "rule": gw.rule["id"]}
    assert value(found, "aiproxy_target_circuit_state", **labels, target="dead") == 1  # open
    assert value(found, "aiproxy_target_circuit_state", **labels, target="live") == 0


class ReadingPlugin:
    """A plugin reporting one good reading, one that breaks the naming rules, and one of another kind."""

    @hookimpl
    async def metric_readings(self) -> list[Any]:
        return [
            MetricReading("aiproxy_widgets_waiting", "Widgets in the queue.", 7, {"queue": "main"}),
            MetricReading("bad name", "Refused.", 1),
            "not a reading",
        ]


class FailingReadingPlugin:
    @hookimpl
    def metric_readings(self) -> list[MetricReading]:
        raise RuntimeError("the widget store is down")


async def test_hook_metric_readings_adds_readings_and_a_bad_one_never_breaks_the_scrape(aiproxy_gateway_factory, caplog):
    gw = await aiproxy_gateway_factory(plugins={"widgets": ReadingPlugin(), "broken": FailingReadingPlugin()})
    found = await scrape(gw)
    assert value(found, "aiproxy_widgets_waiting", queue="main") == 7
    assert not any(name.startswith("bad") for name, _ in found)
    assert "plugin 'broken' could not be read" in caplog.text and "'bad name' is not a Prometheus metric name" in caplog.text


async def test_needs_the_admin_token_when_one_is_set(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory(config={"server": {"admin_token": ADMIN_TOKEN}})
    refused = await gw.admin.get("/metrics")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "missing_admin_token"
    wrong = await gw.admin.get("/metrics", headers={"Authorization": "Bearer " + "x" * 30})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_admin_token"
    await scrape(gw, Authorization=f"Bearer {ADMIN_TOKEN}")
    # A tenant's own key does not read every tenant's figures.
    tenant_key = await gw.admin.get("/metrics", headers=gw.tenant_auth)
    assert tenant_key.status_code == 401


async def test_openmetrics_when_asked_and_404_when_off(aiproxy_gateway_factory):
    gw = await aiproxy_gateway_factory()
    await gw.chat()
    response = await gw.admin.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text") and response.text.endswith("# EOF\n")
    off = await aiproxy_gateway_factory(config={"metrics": {"enabled": False}})
    refused = await off.admin.get("/metrics")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "metrics_disabled"
    assert refused.json()["error"]["request_id"]


def test_workers_on_redis_report_every_workers_requests(tmp_path, aiproxy_mock_upstream, aiproxy_redis_prefix):
    config = {"server": {"base_domain": "gw.test"}, "redis": {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix}}
    with GatewayProcess(config, workdir=tmp_path, args=("--workers", "2")) as gateway:
        tenant = httpx.post(gateway.admin_url + "/api/v1/tenants", json={"name": "W", "subdomain": "w"}).json()
        rule = {"path": "/v1", "target": aiproxy_mock_upstream}
        made = httpx.post(f"{gateway.admin_url}/api/v1/tenants/{tenant['id']}/rules", headers={"Authorization": f"Bearer {tenant['api_key']}"}, json=rule)
        assert made.status_code == 201, made.text
        headers = {"Host": "w.gw.test", "Authorization": f"Bearer {tenant['api_key']}"}
        sent = 60
        for _ in range(sent):
            with httpx.Client() as fresh:  # a new connection each time, so both workers serve some
                answer = fresh.post(gateway.proxy_url + "/v1/chat/completions", headers=headers, json={"model": "gpt-4o", "messages": []})
                assert answer.status_code == 200
        # Other workers' figures reach a scrape within a second; every worker answers the same.
        deadline = time.monotonic() + 10
        while True:
            counts = set()
            for _ in range(6):
                with httpx.Client() as fresh:
                    found = samples(fresh.get(gateway.admin_url + "/metrics").text)
                counts.add((total(found, "aiproxy_requests_total", tenant=tenant["id"]), value(found, "aiproxy_metrics_processes")))
            if counts == {(sent, 2)} or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert counts == {(sent, 2)}


async def test_a_failing_metrics_record_never_breaks_the_request(aiproxy_gateway_factory, monkeypatch):
    import aiproxy_core.metrics.model_label as model_label

    def broken(self: Any, ctx: Any) -> str:
        raise RuntimeError("the metrics broke")

    monkeypatch.setattr(model_label.ModelLabels, "of", broken)
    gw = await aiproxy_gateway_factory()
    response = await gw.chat()
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "You said: Hello!"
    assert value(await scrape(gw), "aiproxy_requests_total", tenant=gw.tenant["id"], rule=gw.rule["id"], gen_ai_request_model="mock-model", status_class="2xx") is None
