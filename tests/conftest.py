"""Shared fixtures for the core's tests (the SDK's pytest plugin supplies the gateway harness)."""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, Any] | None]:
    """Run a test on both stores: None (embedded SQLite) or a Redis section with its own prefix."""
    if request.param == "sqlite":
        yield None
        return
    prefix = "aiproxy-test-" + uuid.uuid4().hex[:12]
    yield {"host": "127.0.0.1", "port": 6379, "prefix": prefix}
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def make_plugin(name: str, log: list[str], **hooks: Any) -> object:
    """A plugin object named ``name`` whose hookimpls are the given functions.

    Each function takes (ctx, settings[, chunk]) and may return what the hook may return; every
    call is appended to ``log`` as ``"<name>.<hook>"`` first.
    """
    namespace: dict[str, Any] = {}
    for hook, function in hooks.items():
        namespace[hook] = _wrap(name, hook, function, log)
    return type(f"Plugin_{name}", (), namespace)()


def _wrap(name: str, hook: str, function: Any, log: list[str]) -> Any:
    import inspect

    from aiproxy_core import hookimpl

    if hook in ("settings_model", "startup", "shutdown", "admin_routes"):
        def registration(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return function(*args, **kwargs)  # pluggy passes arguments by position

        registration.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
            + [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in inspect.signature(function).parameters]
        )
        return hookimpl(registration)

    params = list(inspect.signature(function).parameters)
    if inspect.iscoroutinefunction(function):
        async def stage(self, **kwargs):  # type: ignore[no-untyped-def]
            log.append(f"{name}.{hook}")
            return await function(**kwargs)
    else:
        def stage(self, **kwargs):  # type: ignore[no-untyped-def]
            log.append(f"{name}.{hook}")
            return function(**kwargs)
    stage.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in params]
    )
    stage.__name__ = hook
    return hookimpl(stage)


@pytest.fixture
def plugin_log() -> list[str]:
    return []


@pytest.fixture
def plugin_maker(plugin_log: list[str]):  # type: ignore[no-untyped-def]
    def maker(name: str, **hooks: Any) -> object:
        return make_plugin(name, plugin_log, **hooks)

    return maker
