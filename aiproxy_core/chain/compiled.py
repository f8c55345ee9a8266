"""A rule's chain, resolved once per config change: plugins in priority order, split by stage."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from pydantic import ValidationError

from ..hookspecs import CHUNK_HOOK, STAGE_HOOKS
from ..models import ChainEntry, Rule, Tenant
from ..plugins import PluginRegistry
from .entry_ref import EntryRef


@dataclass(frozen=True, slots=True)
class Step:
    """One hook of one chain entry, ready to call."""

    plugin: str
    hook: str
    function: Callable[..., Any]
    argnames: tuple[str, ...]
    is_async: bool
    settings: Any
    on_error: str
    entry: EntryRef
    #: The arguments the hook takes that are the same on every call (``settings``, ``entry``),
    #: and the names of those that change per call (``ctx``, ``chunk``): worked out here, once per
    #: chain, so a call builds no dict of what it could pass (~0.7 µs a call).
    fixed: dict[str, Any] = field(init=False, compare=False, repr=False)
    per_call: tuple[str, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        same = {"settings": self.settings, "entry": self.entry}
        object.__setattr__(self, "fixed", {name: same[name] for name in self.argnames if name in same})
        object.__setattr__(self, "per_call", tuple(name for name in self.argnames if name not in same))


@dataclass(frozen=True, slots=True)
class CompiledChain:
    pre_request: tuple[Step, ...] = ()
    post_request: tuple[Step, ...] = ()
    pre_response: tuple[Step, ...] = ()
    response_chunk: tuple[Step, ...] = ()
    post_response: tuple[Step, ...] = ()

    #: Every post_response step is a plain ``def``: they run inline after the answer, with no task.
    post_response_now: bool = field(init=False, default=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "post_response_now", all(not step.is_async for step in self.post_response))

    @property
    def reads_response(self) -> bool:
        """Whether any hook looks at the upstream's response (so it must arrive uncompressed)."""
        return bool(self.post_request or self.pre_response or self.response_chunk or self.post_response)


class ChainCompileError(Exception):
    """A saved chain names a plugin that is no longer installed, or settings it no longer accepts."""

    def __init__(self, plugin: str, reason: str) -> None:
        super().__init__(reason)
        self.plugin = plugin


def chain_entries(tenant: Tenant, rule: Rule) -> list[ChainEntry]:
    """The tenant's required plugins, then the rule's chain, enabled ones only, by priority.

    A rule cannot switch a required plugin off: its disabled entries only drop its own entries.
    Python's sort is stable, so at equal priority required plugins run first.
    """
    return [entry for entry, _ in _resolved(tenant, rule)]


def _resolved(tenant: Tenant, rule: Rule) -> list[tuple[ChainEntry, bool]]:
    """:func:`chain_entries`, each with whether it is one of the tenant's required plugins."""
    entries = [(e, True) for e in tenant.required_plugins.values() if e.enabled]
    entries += [(e, False) for e in rule.plugin_chain if e.enabled]
    return sorted(entries, key=lambda pair: pair[0].priority)


def compile_rule_chain(tenant: Tenant, rule: Rule, registry: PluginRegistry) -> "CompiledChain":
    """The compiled chain of ``rule`` (with its tenant's required plugins)."""
    return compile_chain(_resolved(tenant, rule), registry)


def _problems(exc: Exception) -> str:
    """Field paths and messages only: the input values may be secrets, and clients see this text."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors(include_input=False, include_url=False)
        )
    return type(exc).__name__


def compile_chain(entries: Iterable[tuple[ChainEntry, bool]], registry: PluginRegistry) -> CompiledChain:
    """Steps by stage for ``entries`` in order, each with whether it is a tenant's required plugin."""
    stages: dict[str, list[Step]] = {hook: [] for hook in (*STAGE_HOOKS, CHUNK_HOOK)}
    for index, (entry, required) in enumerate(entries):
        ref = EntryRef(index=index, plugin=entry.name, priority=entry.priority, required=required)
        if not registry.has(entry.name):
            raise ChainCompileError(entry.name, f"plugin {entry.name!r} is not installed in this gateway")
        try:
            settings = registry.parse_settings(entry.name, entry.settings)
        except Exception as exc:
            raise ChainCompileError(entry.name, f"plugin {entry.name!r} rejects its saved settings ({_problems(exc)})") from None
        wanted = entry.stages() or STAGE_HOOKS
        hooks = [h for h in STAGE_HOOKS if h in wanted]
        if "pre_response" in wanted:
            hooks.append(CHUNK_HOOK)
        for hook in hooks:
            impl = registry.hookimpl(entry.name, hook)
            if impl is None:
                continue
            stages[hook].append(
                Step(
                    plugin=entry.name,
                    hook=hook,
                    function=impl.function,
                    argnames=tuple(impl.argnames),
                    is_async=inspect.iscoroutinefunction(impl.function),
                    settings=settings,
                    on_error=entry.on_error,
                    entry=ref,
                )
            )
    return CompiledChain(**{hook: tuple(steps) for hook, steps in stages.items()})


EMPTY_CHAIN = CompiledChain()
