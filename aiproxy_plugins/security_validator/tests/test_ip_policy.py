"""allow_ips / deny_ips, and finding the client behind trusted proxies without trusting spoofed XFF.

The harness's proxy client connects from 203.0.113.7.
"""

from __future__ import annotations

import ipaddress

import pytest

from aiproxy_security_validator.client_address import client_address, parse_address

PEER = "203.0.113.7"
PROXIES = [ipaddress.ip_network("203.0.113.0/24"), ipaddress.ip_network("10.0.0.0/8")]


# -- resolving the client address -------------------------------------------------------------


def test_xff_from_an_untrusted_peer_is_ignored():
    assert str(client_address(PEER, ["10.9.9.9"], [])) == PEER
    assert str(client_address(PEER, ["10.9.9.9"], [ipaddress.ip_network("192.0.2.0/24")])) == PEER


def test_trusted_peer_yields_the_right_most_untrusted_hop():
    # The client claims 1.1.1.1; our proxies saw 198.51.100.20, then passed it through 10.0.0.5.
    hops = ["1.1.1.1, 198.51.100.20", "10.0.0.5"]
    assert str(client_address(PEER, hops, PROXIES)) == "198.51.100.20"


def test_all_hops_trusted_means_the_left_most_is_the_client():
    assert str(client_address(PEER, ["10.0.0.9, 10.0.0.5"], PROXIES)) == "10.0.0.9"
    assert str(client_address(PEER, [], PROXIES)) == PEER


def test_a_malformed_hop_from_a_trusted_proxy_gives_no_address():
    assert client_address(PEER, ["198.51.100.20, not-an-ip"], PROXIES) is None


def test_a_malformed_hop_left_of_the_client_does_not_matter():
    assert str(client_address(PEER, ["garbage, 198.51.100.20"], PROXIES)) == "198.51.100.20"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1:51000 ", "192.0.2.1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("unknown", None),
        ("", None),
    ],
)
def test_parse_address(text, expected):
    parsed = parse_address(text)
    assert (str(parsed) if parsed is not None else None) == expected


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


async def test_client_behind_a_trusted_proxy_is_read_from_xff(make_gateway):
    gw = await make_gateway({"allow_ips": ["198.51.100.0/24"], "trusted_proxies": ["203.0.113.0/24"]})
    admitted = await gw.chat("hi", headers={"X-Forwarded-For": "198.51.100.20"})
    assert admitted.status_code == 200, admitted.text
    # The client prepended an allowed address itself; the proxy appended the real one.
    refused = await gw.chat("hi", headers={"X-Forwarded-For": "198.51.100.20, 192.0.2.99"})
    assert refused.status_code == 403
    assert refused.json()["error"]["details"][0]["client_ip"] == "192.0.2.99"


async def test_undeterminable_client_is_refused(make_gateway):
    gw = await make_gateway({"deny_ips": ["192.0.2.0/24"], "trusted_proxies": ["203.0.113.0/24"]})
    response = await gw.chat("hi", headers={"X-Forwarded-For": "bogus"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ip_not_allowed"
