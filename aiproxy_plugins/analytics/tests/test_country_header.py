"""``CF-IPCountry`` is a trusted proxy's word: believed when ``country_header`` names it and the
connection came from ``server.trusted_proxies``; from anyone else, or when not configured, the
client's address decides (a client cannot choose its country)."""

from __future__ import annotations

from typing import Any

import pytest

from aiproxy_sdk import GatewayHarness


async def _countries(gw: GatewayHarness, flush: Any, headers: dict[str, str]) -> dict[str, int]:
    assert (await gw.chat(headers=headers)).status_code == 200
    await flush(gw)
    answer = await gw.admin.get(f"/api/v1/tenants/{gw.tenant['id']}/analytics", params={"interval": "minute", "group_by": "country"},
                                headers=gw.tenant_auth)
    return {g["key"]["country"]: g["requests"] for g in answer.json()["groups"]}


@pytest.mark.parametrize(
    ("trusted", "header_option", "expected"),
    [
        (True, "CF-IPCountry", {"DE": 1}),  # behind Cloudflare, configured: its header
        (True, None, {"US": 1}),  # not configured: the forwarded address (8.8.8.8)
        (False, "CF-IPCountry", {"unknown": 1}),  # the peer is no proxy: neither header counts (203.0.113.7 is reserved)
    ],
)
async def test_the_country_header_counts_only_from_a_trusted_proxy(analytics_gateway, flush, trusted, header_option, expected) -> None:
    config = {"server": {"trusted_proxies": ["203.0.113.0/24" if trusted else "192.0.2.0/24"]}}
    gw: GatewayHarness = await analytics_gateway(config=config, country_header=header_option)
    assert await _countries(gw, flush, {"CF-IPCountry": "DE", "X-Forwarded-For": "8.8.8.8"}) == expected
