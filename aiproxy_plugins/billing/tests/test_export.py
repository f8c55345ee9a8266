"""CloudEvents webhook export on both backends: retries until a 2xx, no retry on a 4xx, leases."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aiproxy_billing.backend import open_backend
from aiproxy_billing.events import BillingEvent
from aiproxy_billing.export import signature
from aiproxy_billing.cli import opened_backend
from aiproxy_core import GatewayConfig
from aiproxy_sdk import ServerThread, run_aiproxy

FAST = {"export_min_backoff": 0.02, "export_max_backoff": 0.1, "export_poll": 0.02}
SECRET = "s3cret-webhook-key"


class Receiver:
    """A webhook that answers ``statuses`` in turn (then 200), recording every delivery."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.deliveries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> JSONResponse:
        body = await request.body()
        with self._lock:
            status = self.statuses.pop(0) if self.statuses else 200
            self.deliveries.append({"headers": dict(request.headers), "body": body, "status": status})
        return JSONResponse({"ok": status < 300}, status_code=status)

    def accepted(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d for d in self.deliveries if d["status"] < 300]


async def configure(gw: Any, url: str, secret: str | None = SECRET) -> None:
    body = {"url": url} | ({"secret": secret} if secret else {})
    put = await gw.admin.put(f"/api/v1/tenants/{gw.tenant['id']}/billing/export", json=body, headers=gw.tenant_auth)
    assert put.status_code == 200, put.text
    assert put.json() == {"url": url, "signed": secret is not None, "secret": "****" + secret[-4:] if secret else None}


async def test_a_failing_receiver_gets_the_event_after_retries(
    billing_gateway: Any, consumer: Any, plugin_of: Any, wait_for: Any
) -> None:
    receiver = Receiver([500, 500, 503])
    with ServerThread(receiver.app) as url:
        gw = await billing_gateway(plugin_options=FAST)
        await configure(gw, url + "/hook")
        _, key = await consumer(gw)
        answer = await gw.proxy_client(key).post(
            "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            headers={"X-Request-ID": "req-export-1"},
        )
        assert answer.status_code == 200, answer.text

        async def delivered() -> bool:
            return len(receiver.accepted()) == 1

        await wait_for(delivered, 15)
        exports = plugin_of(gw).backend().exports
        await wait_for(lambda: _pending_is(exports, 0))
        await asyncio.sleep(0.2)  # nothing more arrives once acknowledged

    tenant = gw.tenant["id"]
    assert len(receiver.deliveries) == 4
    assert [d["status"] for d in receiver.deliveries] == [500, 500, 503, 200]
    final = receiver.accepted()[0]
    # Keyed by the gateway's own request id, never the client's X-Request-ID (issue #9.7).
    request_id = json.loads(final["body"])["data"]["request_id"]
    assert request_id != "req-export-1" and len(request_id) == 32
    assert {d["headers"]["idempotency-key"] for d in receiver.deliveries} == {f"{tenant}:{request_id}"}
    assert final["headers"]["content-type"] == "application/cloudevents+json"
    body = json.loads(final["body"])
    assert body["specversion"] == "1.0"
    assert body["type"] == "dev.aiproxy.billing.request"
    assert body["source"] == f"aiproxy/{tenant}"
    assert body["id"] == f"{tenant}:{request_id}"
    assert body["datacontenttype"] == "application/json"
    assert body["time"] == body["data"]["timestamp"] and body["time"].endswith("Z")
    assert body["data"]["tenant_id"] == tenant
    assert body["data"]["endpoint"] == "/v1/chat/completions" and body["data"]["status"] == 200
    BillingEvent(**body["data"])  # the data is exactly a billing event
    stamp = int(final["headers"]["x-aiproxy-signature"].split(",")[0].removeprefix("t="))
    assert final["headers"]["x-aiproxy-signature"] == signature(SECRET, stamp, final["body"])
    exporter = plugin_of(gw).exporter
    assert exporter.delivered == 1 and exporter.failed_attempts == 3 and exporter.dropped == 0


async def test_a_4xx_is_not_retried(billing_gateway: Any, consumer: Any, plugin_of: Any, wait_for: Any) -> None:
    receiver = Receiver([400, 400, 400])
    with ServerThread(receiver.app) as url:
        gw = await billing_gateway(plugin_options=FAST)
        await configure(gw, url + "/hook", secret=None)
        _, key = await consumer(gw)
        answer = await gw.proxy_client(key).post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": "hi"})
        assert answer.status_code == 200, answer.text
        exporter = plugin_of(gw).exporter

        async def dropped() -> bool:
            return exporter.dropped == 1

        await wait_for(dropped, 15)
        await wait_for(lambda: _pending_is(plugin_of(gw).backend().exports, 0))
        await asyncio.sleep(0.3)
    assert len(receiver.deliveries) == 1
    assert "x-aiproxy-signature" not in receiver.deliveries[0]["headers"]
    assert exporter.delivered == 0


async def test_408_and_429_are_retried(billing_gateway: Any, consumer: Any, plugin_of: Any, wait_for: Any) -> None:
    receiver = Receiver([429, 408])
    with ServerThread(receiver.app) as url:
        gw = await billing_gateway(plugin_options=FAST)
        await configure(gw, url + "/hook")
        _, key = await consumer(gw)
        answer = await gw.proxy_client(key).post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": "hi"})
        assert answer.status_code == 200

        async def delivered() -> bool:
            return len(receiver.accepted()) == 1

        await wait_for(delivered, 15)
    assert [d["status"] for d in receiver.deliveries] == [429, 408, 200]


async def test_the_export_admin_api(billing_gateway: Any) -> None:
    gw = await billing_gateway()
    path = f"/api/v1/tenants/{gw.tenant['id']}/billing/export"
    assert (await gw.admin.get(path, headers=gw.tenant_auth)).status_code == 404
    bad = await gw.admin.put(path, json={"url": "ftp://example.com/x"}, headers=gw.tenant_auth)
    assert bad.status_code == 422, bad.text
    bad = await gw.admin.put(path, json={"url": "https://example.com/x", "extra": 1}, headers=gw.tenant_auth)
    assert bad.status_code == 422, bad.text
    assert (await gw.admin.put(path, json={"url": "https://example.com/x"})).status_code == 401
    await configure(gw, "https://example.com/hook")
    got = await gw.admin.get(path, headers=gw.tenant_auth)
    assert got.json() == {"url": "https://example.com/hook", "signed": True, "secret": "****-key"}  # never the secret itself
    assert (await gw.admin.delete(path, headers=gw.tenant_auth)).status_code == 204
    assert (await gw.admin.get(path, headers=gw.tenant_auth)).status_code == 404


async def test_the_ledger_write_queues_exports_and_leases_hide_taken_entries(billing_state: Any) -> None:
    """Only tenants with a target get queued (a replayed ledger write may queue an event again:
    delivery is at least once, the receiver dedupes by its id); a taken entry whose exporter died
    (never acknowledged) falls due again, for another exporter, when its lease ends."""
    from aiproxy_billing.export import ExportTarget, StateExports

    store = open_backend(billing_state)
    await store.exports.put_target("t-exp", ExportTarget(url="https://example.com/hook"))
    events = [("metering/1-0", _event("t-exp", n)) for n in range(3)] + [("metering/1-0", _event("t-other", 9))]  # one claimed batch
    await store.ledger.write(events)
    assert await store.exports.pending() == 3
    taken = await store.exports.take_due(time.time(), 0.3, 10)
    assert sorted(json.loads(t.event)["request_id"] for t in taken) == ["r-0", "r-1", "r-2"]
    assert await store.exports.take_due(time.time(), 0.3, 10) == []  # leased
    # This exporter dies with them; another takes them over once the lease has run out.
    other = StateExports(billing_state, worker="exporter-2")
    assert await other.take_due(time.time(), 0.3, 10) == []
    await asyncio.sleep(0.35)
    again = await other.take_due(time.time(), 0.3, 10)
    assert sorted(json.loads(t.event)["request_id"] for t in again) == ["r-0", "r-1", "r-2"]
    for item in again:
        await other.done(item)
    assert await store.exports.pending() == 0
    assert await store.ledger.count("t-exp") == 3 and await store.ledger.count("t-other") == 1

    await store.ledger.write(events)  # a replay: counted nothing twice, exports queued again
    assert await store.ledger.count("t-exp") == 3
    replayed = await store.exports.take_due(time.time(), 0.3, 10)
    assert sorted(json.loads(t.event)["request_id"] for t in replayed) == ["r-0", "r-1", "r-2"]


async def test_a_ledger_batch_queues_its_exports_in_one_write(billing_state: Any, backend: dict[str, Any] | None) -> None:
    """A busy ledger batch of an exporting tenant queues its deliveries together: on Redis they
    travel as one queue entry (one write, one batch), not a round trip per event; every event is
    queued on both backends, in order."""
    from aiproxy_billing.export import ExportTarget

    store = open_backend(billing_state)
    await store.exports.put_target("t-exp", ExportTarget(url="https://example.com/hook"))
    await store.ledger.write([("metering/7-0", _event("t-exp", n)) for n in range(200)])
    entries = await billing_state.queue("exports").claim("probe", "w", count=500)
    assert [entry.item["event"]["request_id"] for entry in entries] == [f"r-{n}" for n in range(200)]
    if backend is not None:
        assert len({entry.batch for entry in entries}) == 1


def _event(tenant: str, n: int) -> BillingEvent:
    return BillingEvent(
        request_id=f"r-{n}", tenant_id=tenant, consumer_id="con_1", key_id="key_1", rule_id="rule_1",
        endpoint="/v1/chat/completions", model="gpt-4o-mini", input_tokens=1, output_tokens=1, status=200,
        latency_ms=1.0, timestamp="2025-05-01T12:00:00.000Z",
    )


async def _pending_is(exports: Any, n: int) -> bool:
    return await exports.pending() == n


async def test_the_worker_command_exports_what_it_writes(tmp_path: Any) -> None:
    """``aiproxy billing-worker --once`` (embedded) drains the outbox and delivers the due exports."""
    import yaml

    from aiproxy_billing.export import ExportTarget

    receiver = Receiver([])
    with ServerThread(receiver.app) as url:
        config = GatewayConfig.model_validate({"storage": {"path": str(tmp_path / "aiproxy.db")}})
        async with opened_backend(config) as (store, _):
            await store.exports.put_target("t-cli", ExportTarget(url=url + "/hook"))
            for n in range(5):
                await store.queue.put(_event("t-cli", n))
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({"storage": {"path": str(tmp_path / "aiproxy.db")}}))
        done = await asyncio.to_thread(run_aiproxy, "billing-worker", "--config", str(path), "--once", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    assert sorted(d["headers"]["idempotency-key"] for d in receiver.deliveries) == [f"t-cli:r-{n}" for n in range(5)]
    async with opened_backend(config) as (store, _):
        assert await store.exports.pending() == 0
