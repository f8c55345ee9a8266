"""Redis key names of the state API.

``{prefix}:st:{<tenant>}:<plugin>:<kind>:<key>``: the tenant in a hash tag, so on a Redis Cluster
every key of one tenant (all plugins) shares a slot and one script may touch several of them; the
plugin and kind after it, so one plugin's keys never meet another's; the plugin's own key last,
as given (the separator ``:`` inside it is fine: nothing parses a key back apart from its prefix).
Queues are not per tenant: ``{prefix}:stq:{<plugin>:<name>}``.
"""

from __future__ import annotations

__all__ = ["KeySpace"]

MAX_KEY_LENGTH = 512


def checked_key(key: str) -> str:
    """A plugin's key as given, or a ValueError saying what is wrong with it."""
    if not isinstance(key, str) or "\x00" in key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"a state key is a string of at most {MAX_KEY_LENGTH} characters without NUL, not {key!r:.80}")
    return key


def checked_tenant(tenant_id: str) -> str:
    """A tenant id fit for a hash tag: non-empty and without braces (``{}`` or ``}x`` would leave
    Redis Cluster hashing each key whole, scattering the tenant's keys over slots)."""
    if not isinstance(tenant_id, str) or not tenant_id or "{" in tenant_id or "}" in tenant_id or len(tenant_id) > 200:
        raise ValueError(f"a tenant id is a non-empty string of at most 200 characters without braces, not {tenant_id!r:.80}")
    return tenant_id


class KeySpace:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def tenant_root(self, tenant_id: str) -> str:
        """Every state key of a tenant starts with this (all plugins)."""
        return f"{self.prefix}:st:{{{checked_tenant(tenant_id)}}}:"

    def root(self, tenant_id: str, plugin: str, kind: str) -> str:
        """Every key of one plugin's ``kind`` (values, counters, ...) of a tenant starts with this."""
        return f"{self.tenant_root(tenant_id)}{plugin}:{kind}:"

    def key(self, tenant_id: str, plugin: str, kind: str, key: str) -> str:
        return self.root(tenant_id, plugin, kind) + checked_key(key)

    def queue(self, plugin: str, name: str) -> str:
        return f"{self.prefix}:stq:{{{plugin}:{name}}}"
