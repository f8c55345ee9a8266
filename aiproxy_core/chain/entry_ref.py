"""Which chain entry a stage hook runs for: its ``entry`` argument.

One plugin may appear several times in one request's chain (a tenant's required rate limiter and
the rule's own, say), each with its own settings; a plugin that keeps per-request state between
its hooks keys it by ``entry.index``, never by the identity of its settings object.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EntryRef"]


@dataclass(frozen=True, slots=True)
class EntryRef:
    """One entry of a rule's resolved chain (the tenant's required plugins, then the rule's own,
    by priority), made once when the chain is compiled; the same object for every hook of that
    entry and every request on that chain.

    ``index`` is the entry's position in the resolved chain: unique within a request, so
    ``ctx.state.setdefault(("my_plugin", entry.index), {})`` is this entry's own scratch space.
    """

    index: int
    #: The plugin's entry-point name.
    plugin: str
    priority: int
    #: True for an entry of the tenant's ``required_plugins``, False for one of the rule's chain.
    required: bool
