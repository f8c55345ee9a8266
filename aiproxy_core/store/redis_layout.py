"""The names of the store's Redis keys, the same on one server and on a Redis Cluster.

Every key of the store sits in one hash slot, ``{<prefix>:store}``::

    <p>:{<p>:store}:tenants                 hash  tenant id -> tenant JSON
    <p>:{<p>:store}:tenant_names            hash  casefolded name -> tenant id   (uniqueness index)
    <p>:{<p>:store}:tenant_subdomains       hash  subdomain -> tenant id         (uniqueness index)
    <p>:{<p>:store}:keys                    hash  key SHA-256 -> key JSON        (the auth path's one read)
    <p>:{<p>:store}:rules:<tenant id>       hash  rule id -> rule JSON
    <p>:{<p>:store}:tenant_keys:<tenant id> hash  key id -> key SHA-256
    <p>:{<p>:store}:consumers:<tenant id>   hash  consumer id -> consumer JSON
    <p>:events                              pub/sub channel of ChangeEvents (not a key)

Why one slot for the whole store, rather than each tenant's records in its tenant's slot: every
write script checks a global index and a tenant's records together (a tenant's name and
subdomain are unique; a key's hash is unique across tenants; a rule, key or consumer cannot
outlive its tenant's delete), so split per slot those checks would no longer be atomic. The store
is small configuration, read through each process's caches; what grows with traffic (the state
API's values and counters) is spread over the cluster by its ``{tenant}`` tag instead.

Before this layout (aiproxy up to 0.x on one server) the keys had no hash tag (``<p>:tenants``,
``<p>:rules:<tenant id>``...): :func:`legacy_names` lists them for the one-off move at open.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StoreKeys", "legacy_names"]

GLOBAL_KEYS = ("tenants", "tenant_names", "tenant_subdomains", "keys")
PER_TENANT_KEYS = ("rules", "tenant_keys", "consumers")


@dataclass(frozen=True)
class StoreKeys:
    prefix: str

    @property
    def base(self) -> str:
        return f"{self.prefix}:{{{self.prefix}:store}}:"

    @property
    def tenants(self) -> str:
        return self.base + "tenants"

    @property
    def names(self) -> str:
        return self.base + "tenant_names"

    @property
    def subdomains(self) -> str:
        return self.base + "tenant_subdomains"

    @property
    def keys(self) -> str:
        return self.base + "keys"

    @property
    def channel(self) -> str:
        return f"{self.prefix}:events"

    def rules(self, tenant_id: str) -> str:
        return f"{self.base}rules:{tenant_id}"

    def tenant_keys(self, tenant_id: str) -> str:
        return f"{self.base}tenant_keys:{tenant_id}"

    def consumers(self, tenant_id: str) -> str:
        return f"{self.base}consumers:{tenant_id}"

    def renames(self, tenant_ids: list[str]) -> list[tuple[str, str]]:
        """(old name, new name) of every key the store had before this layout."""
        old = legacy_names(self.prefix)
        pairs = [(old + name, self.base + name) for name in GLOBAL_KEYS]
        for tenant_id in tenant_ids:
            pairs += [(f"{old}{kind}:{tenant_id}", f"{self.base}{kind}:{tenant_id}") for kind in PER_TENANT_KEYS]
        return pairs


def legacy_names(prefix: str) -> str:
    """What the old layout's key names started with (``<prefix>:``, no hash tag)."""
    return prefix + ":"
