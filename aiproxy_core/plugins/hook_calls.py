"""Calling one plugin's registration hook: the one argument filler every call site uses.

A hook implementation names only the keyword arguments it wants (``def startup(services)`` is
fine), so each call passes exactly those of the ones the gateway has (``HookImpl.argnames``, a
public pluggy attribute). How a hook may answer is part of its contract (docs/plugin_hooks.md):

* :func:`call_and_await` - ``startup``, ``shutdown``, ``tenant_deleted``, ``check_references``, ``metric_readings``, ``tenant_openapi``: a
  ``def`` or an ``async def`` (an awaitable returned is awaited);
* :func:`call_now` - ``settings_model``, ``config_model``, ``admin_routes``, ``portal_routes``, ``admin_openapi``, ``cli_commands``: plain
  ``def`` only, since they are asked where nothing can be awaited (building the app, parsing the
  command line); an ``async def`` is refused with a :class:`~aiproxy_core.errors.PluginLoadError`
  naming the plugin and hook instead of silently doing nothing.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping

import pluggy

from ..errors import PluginLoadError

__all__ = ["call_and_await", "call_now"]


def _call(impl: pluggy.HookImpl, available: Mapping[str, Any]) -> Any:
    missing = [name for name in impl.argnames if name not in available]
    if missing:  # pluggy checked the names against the spec: the gateway did not offer one
        raise PluginLoadError(impl.plugin_name, f"hook {impl.function.__name__} asks for {missing}, which this call does not give")
    return impl.function(**{name: available[name] for name in impl.argnames})


async def call_and_await(impl: pluggy.HookImpl, available: Mapping[str, Any]) -> Any:
    """Call ``impl`` with the arguments it names from ``available``; await what it returns if awaitable."""
    result = _call(impl, available)
    if inspect.isawaitable(result):
        result = await result
    return result


def call_now(impl: pluggy.HookImpl, available: Mapping[str, Any]) -> Any:
    """Call ``impl`` with the arguments it names from ``available``; it must answer at once."""
    result = _call(impl, available)
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if close is not None:
            close()  # never awaited: close it so Python does not warn about it later
        raise PluginLoadError(impl.plugin_name, f"hook {impl.function.__name__} must be a plain def, not async def")
    return result
