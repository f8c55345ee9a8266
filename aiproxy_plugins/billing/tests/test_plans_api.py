"""The plans Admin API on both backends: CRUD, auth, and 4xx for bad input with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

PLAN = {
    "name": "Pro",
    "type": "subscription",
    "fee": "49.00",
    "included_requests": 10000,
    "overage_per_request": "0.004",
    "rate_limits": {"limit": 100, "window": "1m"},
}


async def test_create_list_get_replace_delete(billing_gateway: Any) -> None:
    gw = await billing_gateway()
    base = f"/api/v1/tenants/{gw.tenant['id']}/plans"
    made = await gw.admin.post(base, json=PLAN, headers=gw.tenant_auth)
    assert made.status_code == 201, made.text
    plan = made.json()
    assert plan["id"].startswith("plan_") and plan["fee"] == "49.00" and plan["overage_per_request"] == "0.004"
    assert plan["rate_limits"] == {"limit": 100, "window": "1m"}
    assert plan["tenant_id"] == gw.tenant["id"] and plan["currency"] == "USD"

    listed = await gw.admin.get(base, headers=gw.tenant_auth)
    assert [p["id"] for p in listed.json()["data"]] == [plan["id"]]
    got = await gw.admin.get(f"{base}/{plan['id']}", headers=gw.tenant_auth)
    assert got.json() == plan

    replaced = await gw.admin.put(
        f"{base}/{plan['id']}", json={"name": "Metered", "type": "pay_per_call", "price_per_request": "0.01"}, headers=gw.tenant_auth
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["type"] == "pay_per_call" and replaced.json()["created_at"] == plan["created_at"]

    deleted = await gw.admin.delete(f"{base}/{plan['id']}", headers=gw.tenant_auth)
    assert deleted.status_code == 204
    missing = await gw.admin.get(f"{base}/{plan['id']}", headers=gw.tenant_auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "plan_not_found"


@pytest.mark.parametrize("plan_id", ["%00", "plan_%00x", "p" * 5000])
async def test_a_plan_id_no_plan_could_have_is_404_on_every_method(billing_gateway: Any, plan_id: str) -> None:
    """A NUL or a huge id in the path: the state API cannot hold such a key; the answer is the
    plan's 404, never a 500 (found by the Admin API fuzzer)."""
    gw = await billing_gateway()
    url = f"/api/v1/tenants/{gw.tenant['id']}/plans/{plan_id}"
    body = {"name": "X", "type": "pay_per_call", "price_per_request": "0.01"}
    for answer in (
        await gw.admin.get(url, headers=gw.tenant_auth),
        await gw.admin.put(url, json=body, headers=gw.tenant_auth),
        await gw.admin.delete(url, headers=gw.tenant_auth),
    ):
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "plan_not_found", answer.text


async def test_every_plan_type_round_trips(billing_gateway: Any) -> None:
    gw = await billing_gateway()
    base = f"/api/v1/tenants/{gw.tenant['id']}/plans"
    bodies = [
        {"name": "Free", "type": "free", "quota": 1000, "period": "month", "over_quota_status": 402},
        {"name": "Calls", "type": "pay_per_call", "price_per_request": "0.002", "endpoint_prices": {"/v1/embeddings": "0.0005"}},
        PLAN,
        {"name": "Grad", "type": "tiered", "mode": "graduated", "tiers": [{"up_to": 100, "unit_price": "0.10"}, {"unit_price": "0.05"}]},
        {"name": "Pack", "type": "tiered", "mode": "package", "package_size": 100, "package_price": "5"},
        {"name": "Tokens", "type": "usage", "markup_percent": "10", "prices": {"m": {"input_per_1m": "1", "output_per_1m": "2"}}},
    ]
    for body in bodies:
        made = await gw.admin.post(base, json=body, headers=gw.tenant_auth)
        assert made.status_code == 201, made.text
        for field, value in body.items():
            if field == "tiers":  # defaults (flat_fee "0") are shown too
                assert [t["unit_price"] for t in made.json()["tiers"]] == [t["unit_price"] for t in value]
            elif field != "rate_limits":
                assert made.json()[field] == value, field
    assert len((await gw.admin.get(base, headers=gw.tenant_auth)).json()["data"]) == len(bodies)


async def test_bad_input_is_a_4xx_and_changes_nothing(billing_gateway: Any) -> None:
    gw = await billing_gateway()
    base = f"/api/v1/tenants/{gw.tenant['id']}/plans"
    made = (await gw.admin.post(base, json=PLAN, headers=gw.tenant_auth)).json()
    cases = [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b"", 400),
        (b'{"name": "x", "type": "gold"}', 422),
        (b'{"name": "x", "type": "pay_per_call", "price_per_request": 0.1}', 422),
        (b'{"name": "x", "type": "free", "quota": "lots"}', 422),
        (b'{"name": "x", "type": "free", "quota": 5, "colour": "red"}', 422),
        (b'{"name": "x", "type": "tiered", "mode": "volume", "tiers": []}', 422),
        (b'{"name": "' + b"x" * 2_000_000 + b'", "type": "free", "quota": 1}', 413),
    ]
    headers = {**gw.tenant_auth, "content-type": "application/json"}
    for body, status in cases:
        for response in (
            await gw.admin.post(base, content=body, headers=headers),
            await gw.admin.put(f"{base}/{made['id']}", content=body, headers=headers),
        ):
            assert response.status_code == status, (body[:80], response.text[:300])
            assert response.json()["error"]["message"]
    price = await gw.admin.post(base, json={"name": "x", "type": "pay_per_call", "price_per_request": 0.1}, headers=gw.tenant_auth)
    assert "price_per_request" in price.json()["error"]["message"]
    listed = (await gw.admin.get(base, headers=gw.tenant_auth)).json()["data"]
    assert listed == [made]


async def test_plans_need_the_tenants_key_and_stay_in_their_tenant(billing_gateway: Any, aiproxy_gateway_factory: Any) -> None:
    gw = await billing_gateway()
    base = f"/api/v1/tenants/{gw.tenant['id']}/plans"
    assert (await gw.admin.post(base, json=PLAN)).status_code == 401
    assert (await gw.admin.get(base, headers={"Authorization": "Bearer aip_wrong"})).status_code == 401
    made = (await gw.admin.post(base, json=PLAN, headers=gw.tenant_auth)).json()

    # A second tenant on the same gateway cannot see or touch the first one's plan.
    other = await gw.admin.post("/api/v1/tenants", json={"name": "Other", "subdomain": "other" + gw.tenant["id"][-6:].lower()})
    assert other.status_code == 201, other.text
    other_auth = {"Authorization": f"Bearer {other.json()['api_key']}"}
    other_base = f"/api/v1/tenants/{other.json()['id']}/plans"
    assert (await gw.admin.get(other_base, headers=other_auth)).json()["data"] == []
    assert (await gw.admin.get(f"{other_base}/{made['id']}", headers=other_auth)).status_code == 404
    assert (await gw.admin.get(f"{base}/{made['id']}", headers=other_auth)).status_code in (401, 403)
    assert (await gw.admin.delete(f"{other_base}/{made['id']}", headers=other_auth)).status_code == 404
    assert (await gw.admin.get(f"{base}/{made['id']}", headers=gw.tenant_auth)).status_code == 200
