"""What grows is bounded: past ``max_groups`` distinct values per bucket and dimension (made-up
model names, say), requests count under ``other``; nothing is lost from the totals."""

from __future__ import annotations

from aiproxy_sdk import GatewayHarness


async def test_distinct_values_past_the_cap_count_as_other(analytics_gateway, flush) -> None:
    gw: GatewayHarness = await analytics_gateway(max_groups=3)
    for number in range(8):
        assert (await gw.chat(model=f"made-up-{number}")).status_code == 200
    await flush(gw)
    answer = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/analytics", params={"interval": "minute", "group_by": "model"},
                                headers=gw.tenant_auth)
    counts = {g["key"]["model"]: g["requests"] for g in answer.json()["groups"]}
    assert counts == {"made-up-0": 1, "made-up-1": 1, "made-up-2": 1, "other": 5}
    keys = await gw.gateway.services.state("analytics").values(gw.tenant["id"]).keys("minute:model:")
    assert len(keys) == 4
