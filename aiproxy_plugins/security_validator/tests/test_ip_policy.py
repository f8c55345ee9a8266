"""allow_ips / deny_ips against the client address the core decided (``ctx.request.client_ip``).

The harness's proxy client connects from 203.0.113.7. The plugin reads no ``X-Forwarded-For``
itself: the operator's ``server.trusted_proxies`` decides whose forwarding headers count, once,
for every plugin.
"""

from __future__ import annotations

import pytest
from starlette.datastructures import MutableHeaders

from aiproxy_core import Forbidden, ProxyRequest
from aiproxy_security_validator.addresses import parse_address
from aiproxy_security_validator.request_policy import check_client_address
from aiproxy_security_validator.settings import SecurityValidatorSettings

PEER = "203.0.113.7"
BEHIND_OUR_PROXY = {"server": {"trusted_proxies": ["203.0.113.0/24"]}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("unknown", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_address(text, expected):
    parsed = parse_address(text)
    assert (str(parsed) if parsed is not None else None) == expected


def test_an_unknown_client_is_refused_when_lists_are_set():
    # A peer the core could not name (a Unix socket): an IP policy must not fail open.
    request = ProxyRequest("POST", "/v1/x", "", MutableHeaders(), b"", None)
    with pytest.raises(Forbidden) as caught:
        check_client_address(request, SecurityValidatorSettings(deny_ips=["192.0.2.0/24"]))
    assert caught.value.code == "ip_not_allowed"


# -- through the gateway ----------------------------------------------------------------------


async def test_allow_list_admits_a_matching_client(make_gateway):
    gw = await make_gateway({"allow_ips": ["203.0.113.0/24"]})
    response = await gw.chat("hi")
    assert response.status_code == 200, response.text


async def test_allow_list_refuses_others(make_gateway):
    gw = await make_gateway({"allow_ips": ["10.0.0.0/8", "2001:db8::/32"]})
    response = await gw.chat("hi")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "ip_not_allowed"
    assert error["type"] == "permission_error"
    assert error["details"] == [{"plugin": "security_validator", "check": "allow_ips", "client_ip": PEER}]


async def test_deny_list_refuses_and_wins_over_allow(make_gateway):
    gw = await make_gateway({"allow_ips": ["203.0.113.0/24"], "deny_ips": ["203.0.113.7/32"]})
    response = await gw.chat("hi")
    assert response.status_code == 403
    assert response.json()["error"]["details"][0]["check"] == "deny_ips"


async def test_deny_list_alone_admits_others(make_gateway):
    gw = await make_gateway({"deny_ips": ["198.51.100.0/24"]})
    assert (await gw.chat("hi")).status_code == 200


async def test_spoofed_xff_does_not_open_the_allow_list(make_gateway):
    gw = await make_gateway({"allow_ips": ["10.0.0.0/8"]})
    response = await gw.chat("hi", headers={"X-Forwarded-For": "10.1.2.3"})
    assert response.status_code == 403
    assert response.json()["error"]["details"][0]["client_ip"] == PEER


async def test_spoofed_xff_does_not_dodge_the_deny_list(make_gateway):
    gw = await make_gateway({"deny_ips": ["203.0.113.7/32"]})
    response = await gw.chat("hi", headers={"X-Forwarded-For": "192.0.2.50"})
    assert response.status_code == 403


async def test_client_behind_the_operators_trusted_proxy_is_checked(make_gateway):
    """Needs the core's ``server.trusted_proxies`` (the proxy decides ``client_ip``)."""
    gw = await make_gateway({"allow_ips": ["198.51.100.0/24"]}, config=BEHIND_OUR_PROXY)
    admitted = await gw.chat("hi", headers={"X-Forwarded-For": "198.51.100.20"})
    assert admitted.status_code == 200, admitted.text
    # The client prepended an allowed address itself; the proxy appended the real one.
    refused = await gw.chat("hi", headers={"X-Forwarded-For": "198.51.100.20, 192.0.2.99"})
    assert refused.status_code == 403
    assert refused.json()["error"]["details"][0]["client_ip"] == "192.0.2.99"


async def test_a_malformed_hop_from_the_trusted_proxy_leaves_the_proxy_as_the_client(make_gateway):
    """Needs the core's ``server.trusted_proxies``: a hop that is no address is not believed."""
    gw = await make_gateway({"deny_ips": ["192.0.2.0/24"]}, config=BEHIND_OUR_PROXY)
    response = await gw.chat("hi", headers={"X-Forwarded-For": "192.0.2.1, bogus"})
    assert response.status_code == 200, response.text
    refused = await make_gateway({"allow_ips": ["192.0.2.0/24"]}, config=BEHIND_OUR_PROXY)
    answer = await refused.chat("hi", headers={"X-Forwarded-For": "192.0.2.1, bogus"})
    assert answer.status_code == 403
    assert answer.json()["error"]["details"][0]["client_ip"] == PEER


async def test_the_same_gateway_without_trusted_proxies_ignores_xff(make_gateway):
    gw = await make_gateway({"allow_ips": ["198.51.100.0/24"]})
    response = await gw.chat("hi", headers={"X-Forwarded-For": "198.51.100.20"})
    assert response.status_code == 403
    assert response.json()["error"]["details"][0]["client_ip"] == PEER
