"""The Admin API's analytics endpoints: every bad parameter is a 400 with a stable code and what
to fix; one tenant never sees another's analytics; another tenant's consumer id is a 404; the
JSON shape is the documented one; a tenant deleted is gone from memory too."""

from __future__ import annotations

import pytest

from aiproxy_sdk import GatewayHarness


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"interval": "week"}, "invalid_interval"),
        ({"group_by": "user"}, "invalid_group_by"),
        ({"from": "yesterday"}, "invalid_time"),
        ({"to": "2026-13-01T00:00:00Z"}, "invalid_time"),
        ({"from": "nan"}, "invalid_time"),
        ({"from": "1e300"}, "invalid_time"),
        ({"from": "1700000600", "to": "1700000000"}, "invalid_range"),
        ({"from": "1700000000", "to": "1700000000"}, "invalid_range"),
        ({"interval": "minute", "from": "2026-01-01T00:00:00Z", "to": "2026-01-03T00:00:00Z"}, "range_too_long"),
        ({"interval": "hour", "from": "2026-01-01", "to": "2026-03-01"}, "range_too_long"),
        ({"interval": "day", "from": "0", "to": "1700000000"}, "range_too_long"),
        ({"group-by": "model"}, "unknown_parameter"),
    ],
)
async def test_bad_parameters_are_400_with_a_code(analytics_gateway, params, code) -> None:
    gw: GatewayHarness = await analytics_gateway()
    answer = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/analytics", params=params, headers=gw.tenant_auth)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert error["message"]


async def test_a_consumer_view_is_grouped_by_consumer_only(analytics_gateway, consumer) -> None:
    gw: GatewayHarness = await analytics_gateway()
    consumer_id, _ = await consumer(gw)
    answer = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/consumers/{consumer_id}/analytics",
                                params={"group_by": "model"}, headers=gw.tenant_auth)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_group_by"


async def test_tenants_never_see_each_others_analytics(analytics_gateway, consumer, flush) -> None:
    gw: GatewayHarness = await analytics_gateway()
    mine, key = await consumer(gw)
    client = gw.proxy_client(api_key=key)
    for _ in range(5):
        assert (await client.post("/v1/chat/completions", json={"model": "m", "messages": []})).status_code == 200
    await flush(gw)
    other = (await gw.admin.post("/api/v1/tenants", json={"name": "Other", "subdomain": "other" + gw.tenant["id"][-6:].lower()})).json()
    other_auth = {"Authorization": f"Bearer {other['api_key']}"}

    theirs = await gw.admin.get(f"/api/v1/tenants/{other['id']}/analytics", params={"group_by": "consumer"}, headers=other_auth)
    assert theirs.status_code == 200 and theirs.json()["groups"] == []
    # The other tenant's key on this tenant's path, and this tenant's consumer under the other's.
    assert (await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/analytics", headers=other_auth)).status_code in (401, 403, 404)
    foreign = await gw.admin.get(f"/api/v1/tenants/{other['id']}/consumers/{mine}/analytics", headers=other_auth)
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "consumer_not_found"
    assert (await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/analytics")).status_code == 401

    own = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/analytics", params={"interval": "minute"}, headers=gw.tenant_auth)
    assert own.status_code == 200
    (group,) = own.json()["groups"]
    assert group["key"] == {} and group["requests"] == 5 and group["errors"] == 0
    assert set(group) == {"key", "requests", "errors", "input_tokens", "output_tokens", "cost", "request_bytes", "response_bytes",
                          "interrupted", "cache_hits", "flagged", "latency_ms", "ttft_ms", "series"}
    assert set(group["latency_ms"]) == {"p50", "p90", "p95", "p99"}
    assert len(group["series"]) == 1 and group["series"][0]["requests"] == 5


async def test_a_deleted_tenants_buckets_are_not_written_back(analytics_gateway, consumer, flush) -> None:
    gw: GatewayHarness = await analytics_gateway()
    assert (await gw.chat()).status_code == 200
    await gw.settle()  # in memory, not yet written
    token = gw.gateway.config.server.admin_token
    deleted = await gw.admin.delete(f"/api/v1/tenants/{gw.tenant['id']}", headers={"Authorization": f"Bearer {token}"} if token else gw.tenant_auth)
    assert deleted.status_code in (200, 204), deleted.text
    await flush(gw)
    assert await gw.gateway.services.state("analytics").values(gw.tenant["id"]).keys() == []


async def test_with_records_off_the_aggregates_still_answer(analytics_gateway, consumer, flush) -> None:
    """The default (``keep_records: false``): the request path reads less, the API answers the same."""
    gw: GatewayHarness = await analytics_gateway(keep_records=False)
    consumer_id, key = await consumer(gw)
    client = gw.proxy_client(api_key=key)
    for _ in range(7):
        assert (await client.post("/v1/chat/completions", json={"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]})).status_code == 200
    await flush(gw)
    answer = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/consumers/{consumer_id}/analytics", headers=gw.tenant_auth)
    assert answer.status_code == 200, answer.text
    (group,) = answer.json()["groups"]
    assert group["requests"] == 7 and group["errors"] == 0 and group["input_tokens"] > 0
    assert group["latency_ms"]["p50"] is not None and group["latency_ms"]["p50"] > 0
