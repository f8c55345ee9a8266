"""The addresses of this host, so a rule cannot reach the gateway's own ports through them.

A listener bound to ``0.0.0.0`` or ``::`` answers on every one of them (and a Redis on this host
often does too), so "refuse 127.0.0.1:8080" is not enough: the host's LAN or public address with
port 8080 reaches the same socket. Read once at start; no network traffic is sent.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import socket
from pathlib import Path

logger = logging.getLogger("aiproxy.upstream")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Every address a connection to this host may use whatever its interfaces: on Linux the whole of
#: 127/8 is routed to ``lo``, and connecting to the unspecified address reaches local listeners.
ALWAYS_LOCAL: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("0.0.0.0/32"),
    ipaddress.ip_network("::1/128"),
    ipaddress.ip_network("::/128"),
)


@functools.cache
def local_networks() -> tuple[Network, ...]:
    """:data:`ALWAYS_LOCAL` plus each address configured on this host (as a /32 or /128)."""
    found: set[Address] = set()
    found.update(_linux_ipv4_local())
    found.update(_linux_ipv6_local())
    found.update(_host_name_addresses())
    extra = [ipaddress.ip_network(a) for a in sorted(found, key=lambda a: (a.version, int(a)))]
    return ALWAYS_LOCAL + tuple(n for n in extra if not any(n.overlaps(w) for w in ALWAYS_LOCAL))


def _linux_ipv4_local() -> set[Address]:
    """The ``/32 host LOCAL`` entries of the kernel's routing trie: the host's own IPv4 addresses."""
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
    except OSError:
        return set()
    found: set[Address] = set()
    for previous, line in zip(lines, lines[1:]):
        if line.strip() == "/32 host LOCAL":
            candidate = previous.strip().removeprefix("|-- ")
            try:
                found.add(ipaddress.IPv4Address(candidate))
            except ValueError:
                continue
    return found


def _linux_ipv6_local() -> set[Address]:
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return set()
    found: set[Address] = set()
    for line in lines:
        digits = line.split(" ", 1)[0]
        try:
            found.add(ipaddress.IPv6Address(int(digits, 16)))
        except ValueError:
            continue
    return found


def _host_name_addresses() -> set[Address]:
    """What this host's name resolves to (the portable fallback where ``/proc`` is absent)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, type=socket.SOCK_STREAM)
    except OSError:
        return set()
    found: set[Address] = set()
    for _family, _type, _proto, _name, sockaddr in infos:
        try:
            found.add(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
        except ValueError:
            continue
    return found
