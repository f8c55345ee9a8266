"""Which addresses a rule's ``target`` may reach (SSRF protection).

A tenant writes rule targets and a consumer's request is sent there, so a target is a way into
whatever the gateway's host can reach. The policy:

* public addresses are allowed;
* loopback, private (RFC 1918, ULA), link-local, CGNAT, multicast, unspecified, reserved,
  documentation and cloud-metadata addresses are refused unless a network in
  ``upstream.allowed_networks`` (or an exact endpoint allowance, e.g. ``--demo``'s mock upstream)
  contains them;
* the gateway's own listeners and its Redis are refused whatever those allowances say.

Addresses are compared as numbers, so every spelling counts: ``2130706433``, ``0177.0.0.1``,
``0x7f.1`` and ``127.1`` are 127.0.0.1 (parsed by ``socket.inet_aton``, as the resolver does),
``[::ffff:127.0.0.1]`` is too, and IPv6 forms that embed an IPv4 address (6to4, NAT64) are
judged by the address they embed. The policy is checked when a rule is saved
(:meth:`TargetPolicy.check_target`, 422) and again for every address a connection is made to
(:meth:`TargetPolicy.refusal`, used by the upstream client's resolver, 403), so a name that
resolves to private space, or re-binds to it later, is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Iterable, NamedTuple

from ..config import GatewayConfig
from ..errors import ValidationFailed
from .local_addresses import local_networks

logger = logging.getLogger("aiproxy.upstream")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: How long a save waits for a target's name to resolve; a name that does not resolve by then
#: is accepted (it may be created later) and judged at connect time.
SAVE_RESOLVE_SECONDS = 3.0

ALLOW_HINT = "an operator can allow it with upstream.allowed_networks"

_METADATA = "a cloud metadata address"

#: Most specific first: the first network that contains an address names why it is refused.
_REFUSED_V4: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("169.254.169.254/32", _METADATA),  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        ("168.63.129.16/32", _METADATA),  # Azure's platform endpoint (WireServer)
        ("100.100.100.200/32", _METADATA),  # Alibaba Cloud
        ("0.0.0.0/8", "an unspecified address ('this network', reaches local listeners)"),
        ("10.0.0.0/8", "a private address (RFC 1918)"),
        ("100.64.0.0/10", "a carrier-grade NAT address (RFC 6598)"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address (RFC 1918)"),
        ("192.0.0.0/24", "a reserved address (IETF protocol assignments)"),
        ("192.0.2.0/24", "a documentation address (RFC 5737), not a public one"),
        ("192.88.99.0/24", "a reserved address (6to4 relay anycast)"),
        ("192.168.0.0/16", "a private address (RFC 1918)"),
        ("198.18.0.0/15", "a benchmarking address (RFC 2544), not a public one"),
        ("198.51.100.0/24", "a documentation address (RFC 5737), not a public one"),
        ("203.0.113.0/24", "a documentation address (RFC 5737), not a public one"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)

_REFUSED_V6: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("fd00:ec2::254/128", _METADATA),  # AWS over IPv6
        ("::/128", "an unspecified address (reaches local listeners)"),
        ("::1/128", "a loopback address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address (RFC 8215)"),
        ("100::/64", "a discard-only address (RFC 6666)"),
        ("2001::/32", "a Teredo tunnel address"),
        ("2001:db8::/32", "a documentation address (RFC 3849), not a public one"),
        ("fc00::/7", "a unique local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local (private) address"),
        ("ff00::/8", "a multicast address"),
    )
)

#: Outside global unicast (2000::/3) IPv6 has nothing public to reach.
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

#: Names that mean an address whatever DNS says (and resolve only inside a cloud or via /etc/hosts).
_FIXED_NAMES: dict[str, tuple[Address, ...]] = {
    "localhost": (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")),
    "metadata.google.internal": (ipaddress.ip_address("169.254.169.254"),),
    "metadata": (ipaddress.ip_address("169.254.169.254"),),
    "metadata.goog": (ipaddress.ip_address("169.254.169.254"),),
    "instance-data": (ipaddress.ip_address("169.254.169.254"),),
    "instance-data.ec2.internal": (ipaddress.ip_address("169.254.169.254"),),
}

_INET_ATON_CHARACTERS = frozenset("0123456789abcdefx.")


def parse_address(host: str) -> Address | None:
    """``host`` as an IP address in any spelling a resolver accepts, or None for a name.

    Accepts brackets, one trailing dot, upper case, IPv6 zone ids and the legacy IPv4 forms of
    ``inet_aton`` (decimal, octal, hex, fewer than four parts). IPv4-mapped IPv6 becomes IPv4.
    """
    text = host.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    if not text:
        return None
    try:
        address: Address = ipaddress.ip_address(text.split("%", 1)[0] if ":" in text else text)
    except ValueError:
        if not set(text) <= _INET_ATON_CHARACTERS:  # inet_aton ignores text after a space: check first
            return None
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return _unmapped(address)


def _unmapped(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4, NAT64 or IPv4-compatible address leads to."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def classify(address: Address) -> str | None:
    """Why ``address`` is not public (a noun phrase), or None when it is."""
    address = _unmapped(address)
    if isinstance(address, ipaddress.IPv4Address):
        for network, why in _REFUSED_V4:
            if address in network:
                return why
        return None
    for network, why in _REFUSED_V6:
        if address in network:
            return why
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        inner = classify(embedded)
        if inner is not None:
            return f"an IPv6 form of {embedded}, which is {inner}"
        return None if address in _GLOBAL_UNICAST_V6 else "a reserved address (IPv4-compatible IPv6)"
    if address not in _GLOBAL_UNICAST_V6:
        return "a reserved address (outside IPv6 global unicast)"
    return None


class _OwnEndpoint(NamedTuple):
    networks: tuple[Network, ...]
    what: str


class TargetPolicy:
    """Built once from the config (:meth:`from_config`); answers with no I/O except save-time DNS."""

    def __init__(self, allowed_networks: Iterable[str] = ()) -> None:
        self._allowed: tuple[Network, ...] = tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks)
        self._allowed_endpoints: set[tuple[Address, int]] = set()
        #: port -> the gateway's own endpoints on it
        self._own: dict[int, list[_OwnEndpoint]] = {}

    @classmethod
    def from_config(cls, config: GatewayConfig) -> TargetPolicy:
        """The operator's ``upstream.allowed_networks``; both listeners and Redis refused."""
        policy = cls(config.upstream.allowed_networks)
        server = config.server
        policy.refuse_own_endpoint("Admin listener", server.admin_host, server.admin_port)
        policy.refuse_own_endpoint("Proxy listener", server.proxy_host, server.proxy_port)
        if config.redis is not None:
            policy.refuse_own_endpoint("Redis", config.redis.host, config.redis.port)
        return policy

    def refuse_own_endpoint(self, what: str, host: str, port: int) -> None:
        """Never let a target reach ``host:port`` (one of the gateway's own sockets), nor the same
        port on any of this host's addresses, whatever the allowances say.

        Call it for every socket the gateway binds or connects to that the config does not name
        (e.g. a listener on a port picked at start).
        """
        if port == 0:  # "any free port": the caller tells us the real one once bound
            return
        networks = set(local_networks())
        for address in self._addresses_of(host):
            networks.add(ipaddress.ip_network(address))
        self._own.setdefault(port, []).append(_OwnEndpoint(tuple(networks), what))

    def allow_endpoint(self, host: str, port: int) -> None:
        """Allow exactly ``host:port`` (an IP address), e.g. the mock upstream of ``aiproxy serve --demo``."""
        address = parse_address(host)
        if address is None:
            raise ValueError(f"allow_endpoint needs an IP address, not {host!r}")
        self._allowed_endpoints.add((address, port))

    def refusal(self, address: Address, port: int) -> str | None:
        """Why a connection to ``address:port`` is refused ("is ..."), or None when it is allowed."""
        address = _unmapped(address)
        for own in self._own.get(port, ()):
            if any(address in network for network in own.networks):
                return f"is this gateway's own {own.what} (never allowed)"
        if (address, port) in self._allowed_endpoints:
            return None
        if any(address in network for network in self._allowed):
            return None
        why = classify(address)
        return None if why is None else f"is {why}; {ALLOW_HINT}"

    def host_refusal(self, host: str, port: int) -> str | None:
        """:meth:`refusal` for a host that needs no DNS: an IP literal or a fixed name (``localhost``,
        ``metadata.google.internal``); None for any other name (judged once resolved)."""
        address = parse_address(host)
        if address is not None:
            return self.refusal(address, port)
        fixed = _FIXED_NAMES.get(_name(host))
        return None if fixed is None else self.addresses_refusal(fixed, port)

    def addresses_refusal(self, addresses: Iterable[Address], port: int) -> str | None:
        """Why a name that resolves to ``addresses`` is refused: when none of them is allowed (a
        connection uses only the allowed ones), naming the first; None when one is allowed."""
        first: str | None = None
        for address in addresses:
            why = self.refusal(address, port)
            if why is None:
                return None
            if first is None:
                first = f"resolves to {address}, which {why}"
        return first

    async def check_target(self, url: str) -> None:
        """Refuse a rule's target at save: 422 ``target_not_allowed`` naming the address and why.

        A name is resolved (off the event loop); one that does not resolve is accepted and judged
        at connect time, when the upstream client checks every address it would connect to.
        """
        scheme, host, port = split_origin(url)
        why = self.host_refusal(host, port)
        if why is None and parse_address(host) is None and _name(host) not in _FIXED_NAMES:
            why = self.addresses_refusal(await self._resolve(host, port), port)
        if why is not None:
            raise ValidationFailed(f"target {scheme}://{_bracketed(host)}:{port} {why}", code="target_not_allowed")

    def _addresses_of(self, host: str) -> set[Address]:
        """The addresses of an own endpoint's host, resolved once at start (blocking is fine there)."""
        address = parse_address(host)
        if address is not None:
            return {address}
        fixed = _FIXED_NAMES.get(_name(host))
        if fixed:
            return set(fixed)
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            logger.warning("cannot resolve %r to keep rule targets away from it: %s", host, exc)
            return set()
        return {a for a in (parse_address(str(info[4][0])) for info in infos) if a is not None}

    @staticmethod
    async def _resolve(host: str, port: int) -> list[Address]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host.rstrip("."), port, type=socket.SOCK_STREAM), SAVE_RESOLVE_SECONDS
            )
        except (OSError, asyncio.TimeoutError, ValueError):  # UnicodeError is a ValueError
            return []
        return [a for a in (parse_address(str(info[4][0])) for info in infos) if a is not None]


def split_origin(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an absolute http(s) URL, the port defaulted by scheme.

    Host brackets and userinfo are removed; the host keeps its spelling (for :func:`parse_address`).
    """
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    authority = rest
    for separator in "/?#":
        authority = authority.split(separator, 1)[0]
    authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        host, _, tail = authority[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, colon, port_text = authority.rpartition(":")
        if not colon or not port_text.isdigit():
            host, port_text = authority, ""
    port = int(port_text) if port_text.isdigit() else (443 if scheme == "https" else 80)
    return scheme, host, port


def _name(host: str) -> str:
    name = host.lower().rstrip(".")
    return "localhost" if name.endswith(".localhost") else name


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
