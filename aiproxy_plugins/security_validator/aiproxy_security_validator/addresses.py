"""Client addresses and the networks of ``allow_ips`` / ``deny_ips``.

Who the client is was decided by the core (``ctx.request.client_ip``, from the operator's
``server.trusted_proxies``), so every plugin agrees on it; this module only compares it with lists.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Iterable

__all__ = ["Address", "Network", "parse_address", "within"]

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


def parse_address(text: str | None) -> Address | None:
    """The address in ``ctx.request.client_ip``; None when there is none (e.g. a Unix socket peer)."""
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    # A dual-stack socket shows an IPv4 client as ::ffff:a.b.c.d, while lists are written in IPv4.
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def within(address: Address, networks: Iterable[Network]) -> bool:
    # ipaddress answers False (not an error) when versions differ, so mixed lists just work.
    return any(address in network for network in networks)
