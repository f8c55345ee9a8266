"""Analytics' developer-portal section: a signed-in consumer sees its own figures, no one else's."""

from __future__ import annotations

from typing import Any

from aiproxy_core import PORTAL_API
from aiproxy_sdk import GatewayHarness


async def test_a_consumer_sees_only_its_own_analytics(analytics_gateway: Any, consumer: Any, flush: Any) -> None:
    gw: GatewayHarness = await analytics_gateway()
    mine, key = await consumer(gw)
    _, other_key = await consumer(gw)
    for client, count in ((gw.proxy_client(api_key=key), 3), (gw.proxy_client(api_key=other_key), 2)):
        for _ in range(count):
            assert (await client.post("/v1/chat/completions", json={"model": "m", "messages": []})).status_code == 200
    await flush(gw)

    sections = (await gw.proxy_client().get(PORTAL_API + "/sections")).json()["sections"]
    assert {"title": "Your analytics", "path": PORTAL_API + "/analytics", "signed_in": True} in sections
    own = await gw.proxy_client(api_key=key).get(PORTAL_API + "/analytics", params={"interval": "day"})
    assert own.status_code == 200, own.text
    (group,) = own.json()["groups"]
    assert group["requests"] == 3 and mine in str(group["key"])
    refused = await gw.proxy_client(api_key=key).get(PORTAL_API + "/analytics", params={"group_by": "model"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_group_by"
    tenant_key = await gw.proxy_client(api_key=gw.api_key).get(PORTAL_API + "/analytics")
    assert tenant_key.status_code == 403 and tenant_key.json()["error"]["code"] == "consumer_key_required"
