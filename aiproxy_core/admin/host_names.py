"""Which ``Host`` names the Admin API answers to: DNS rebinding protection.

A page on ``rebind.evil.example`` whose DNS name is switched to 127.0.0.1 reaches a loopback
listener from the victim's browser, but its requests still say ``Host: rebind.evil.example``.
Answering only the configured names (``server.admin_hostnames``) refuses them.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["HostNames", "host_name"]


def _normalized(name: str) -> str:
    """Lower case, without one trailing dot (``localhost.`` is ``localhost``) or IPv6 brackets."""
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name[:-1] if name.endswith(".") else name


def host_name(host: str) -> str | None:
    """The name part of a ``Host`` value (no port, normalized), or None when it is malformed."""
    if host.startswith("["):  # [IPv6] or [IPv6]:port
        end = host.find("]")
        if end < 0:
            return None
        name, rest = host[1:end], host[end + 1 :]
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        return _normalized(name) or None
    name, colon, port = host.partition(":")
    if colon and not port.isdigit():
        return None  # a bare IPv6 address or a bad port
    return _normalized(name) or None


class HostNames:
    """The allowed names, normalized once at start; each check is one set lookup."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(_normalized(name) for name in names)

    def allows(self, host: str | None) -> bool:
        return host is not None and host_name(host) in self.names
