"""Who is really asking: the direct peer, or the client that trusted proxies say they forwarded.

``X-Forwarded-For`` is only believed when the direct peer is a trusted proxy: any client can send
the header, so from anyone else it proves nothing. Each proxy appends the address it received the
request from, so reading from the right, the first address that is not one of our proxies is the
last one a trusted party vouched for; everything left of it may be made up by the client.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Iterable, Sequence

__all__ = ["Address", "Network", "client_address", "parse_address", "within"]

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


def parse_address(text: str) -> Address | None:
    """An IP address from a socket peer or an ``X-Forwarded-For`` hop; None if it is not one.

    Some proxies write ``192.0.2.1:51000`` or ``[2001:db8::1]:443``; the port is dropped.
    """
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # an IPv6 address has at least two colons, so this is v4 with a port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # A dual-stack socket shows an IPv4 client as ::ffff:a.b.c.d, while lists are written in IPv4.
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def within(address: Address, networks: Iterable[Network]) -> bool:
    # ipaddress answers False (not an error) when versions differ, so mixed lists just work.
    return any(address in network for network in networks)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> Address | None:
    """The client's address, or None when it cannot be known (no peer, or a malformed hop).

    ``forwarded_for`` holds the values of every ``X-Forwarded-For`` header, in order.
    """
    address = parse_address(peer) if peer else None
    if address is None or not within(address, trusted):
        return address
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        candidate = parse_address(hop)
        if candidate is None:
            # Our own proxy wrote something that is not an address: refuse to guess who this is.
            return None
        if not within(candidate, trusted):
            return candidate
        address = candidate
    # Every hop is one of our proxies (or there are none): the left-most one is where it started.
    return address
