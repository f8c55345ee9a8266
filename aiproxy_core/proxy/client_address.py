"""Who is asking: decided once per request, in the core, from ``server.trusted_proxies``.

Every plugin that counts or checks by address (rate limits per IP, allow and deny lists, analytics)
reads ``ctx.request.client_ip`` and so agrees with the others. Forwarding headers are believed
only from a peer the operator listed: anyone else could write ``X-Forwarded-For: 10.0.0.1``.
"""

from __future__ import annotations

import ipaddress
from typing import Sequence

__all__ = ["ClientAddresses"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Peers remembered as trusted or not; bounded so a flood of addresses cannot grow it.
_MAX_REMEMBERED = 4096


class ClientAddresses:
    """``trusted_proxies`` as networks, and the rule that turns a peer and its headers into a client."""

    def __init__(self, trusted_proxies: Sequence[str]) -> None:
        self._networks: tuple[Network, ...] = tuple(ipaddress.ip_network(n, strict=False) for n in trusted_proxies)
        self._peers: dict[str, bool] = {}

    @property
    def any_trusted(self) -> bool:
        return bool(self._networks)

    def is_trusted(self, address: str | None) -> bool:
        """Whether ``address`` lies in a trusted proxy network (False for no or a malformed address)."""
        if not self._networks or not address:
            return False
        known = self._peers.get(address)
        if known is None:
            known = self._in_networks(address)
            if len(self._peers) >= _MAX_REMEMBERED:
                self._peers.clear()
            self._peers[address] = known
        return known

    def scheme_of(self, peer: str | None, forwarded_proto: str | None, scheme: str) -> str:
        """``http`` or ``https`` as the client used it: the connection's, or the
        ``X-Forwarded-Proto`` of a trusted proxy (anyone else's is ignored)."""
        if forwarded_proto is not None and self.is_trusted(peer):
            claimed = forwarded_proto.split(",", 1)[0].strip().lower()
            if claimed in ("http", "https"):
                return claimed
        return scheme

    def _in_networks(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip().strip("[]"))
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self._networks)

    def client_of(self, peer: str | None, forwarded_for: Sequence[str]) -> str | None:
        """The right-most ``X-Forwarded-For`` entry that is not a trusted proxy, when the peer is one;
        else the peer itself.

        Walking from the right stops at the first address no trusted proxy vouches for: entries to
        its left were written by whoever sent the request and prove nothing. A malformed entry ends
        the walk the same way (the last trusted hop's view is kept).
        """
        if not self.is_trusted(peer):
            return peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
        client = peer
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop.strip("[]"))
            except ValueError:
                break
            client = hop.strip("[]")
            if not self.is_trusted(client):
                break
        return client
