"""Shared fixtures for the core's tests (the SDK's pytest plugin supplies the gateway harness,
``aiproxy_backend`` and ``aiproxy_redis_prefix``)."""

from __future__ import annotations

import functools
import inspect
import json
import re
import types
from typing import Any, Callable

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
    if hook in ("settings_model", "config_model", "startup", "shutdown", "tenant_deleted", "admin_routes", "admin_openapi", "tenant_openapi"):
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


#: What only an unhandled exception puts in a response: a traceback, a source location, or a
#: Python exception class name (``KeyError``, ``ClientConnectorError``, ...).
_LEAKED_INTERNALS = re.compile(r'Traceback \(most recent call last\)|File "|\b[A-Z][A-Za-z]*(?:Error|Exception)\b')


def answer_problems(status: int, body: bytes, *, has_body: bool = True) -> list[str]:
    """What is wrong with one gateway answer, for the fuzz tests: a 5xx, a leaked traceback, or an
    error body that is not the JSON envelope ``{"error": {"type", "code", "message", "request_id"}}``."""
    problems: list[str] = []
    if status >= 500:
        problems.append(f"status {status}")
    text = body.decode("utf-8", errors="replace")
    leaked = _LEAKED_INTERNALS.search(text)
    if leaked:
        problems.append(f"internals in the body: {leaked.group(0)!r}")
    if status >= 400 and has_body:
        try:
            error = json.loads(body)["error"]
            fields = [error[name] for name in ("type", "code", "message")]
            request_id = error["request_id"]
        except (ValueError, KeyError, TypeError):
            problems.append(f"error body is not the envelope: {text[:200]!r}")
        else:
            if not all(isinstance(field, str) and field for field in fields):
                problems.append(f"envelope with an empty or non-string type/code/message: {error!r}"[:300])
            if not (isinstance(request_id, str) and request_id):
                problems.append(f"envelope without a request id: {error!r}"[:300])
    return problems


@pytest.fixture
def fuzz_answer_problems() -> Callable[..., list[str]]:
    """:func:`answer_problems`, for test modules (imported with importlib, they cannot import this one)."""
    return answer_problems
