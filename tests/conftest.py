"""Shared fixtures for the core's tests (the SDK's pytest plugin supplies the gateway harness,
``aiproxy_backend`` and ``aiproxy_redis_prefix``)."""

from __future__ import annotations

import functools
import inspect
import types
from typing import Any

import pytest


def make_plugin(name: str, log: list[str], **hooks: Any) -> object:
    """A plugin object named ``name`` whose hookimpls are the given functions.

    Stage hooks take (ctx, settings[, chunk]), or fewer, and may return what the hook may return;
    every stage call is appended to ``log`` as ``"<name>.<hook>"`` first.
    """
    from aiproxy_core import hookimpl

    # Plain functions as instance attributes: pluggy reads each one's own parameter names
    # (through functools.wraps for the logging wrappers).
    return types.SimpleNamespace(**{hook: hookimpl(_logged(name, hook, function, log)) for hook, function in hooks.items()})


def _logged(name: str, hook: str, function: Any, log: list[str]) -> Any:
    if hook in ("settings_model", "config_model", "startup", "shutdown", "tenant_deleted", "admin_routes"):
        return function
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def async_stage(*args: Any, **kwargs: Any) -> Any:
            log.append(f"{name}.{hook}")
            return await function(*args, **kwargs)

        return async_stage

    @functools.wraps(function)
    def stage(*args: Any, **kwargs: Any) -> Any:
        log.append(f"{name}.{hook}")
        return function(*args, **kwargs)

    return stage


@pytest.fixture
def plugin_log() -> list[str]:
    return []


@pytest.fixture
def plugin_maker(plugin_log: list[str]):  # type: ignore[no-untyped-def]
    def maker(name: str, **hooks: Any) -> object:
        return make_plugin(name, plugin_log, **hooks)

    return maker
