"""Plugins, the SDK and the cookbook use only aiproxy_core's public API (tests/test_exported_members.py).

Each import statement is read from the source (ast), so an import inside a function counts too:
``from aiproxy_core import X`` needs X in ``aiproxy_core.__all__``; ``from aiproxy_core.m import X``
and ``import aiproxy_core.m`` need ``m`` to be an exported module and X in its ``__all__``; and
``aiproxy_core.X`` after ``import aiproxy_core`` needs X exported. Plugin tests
(``aiproxy_plugins/*/tests``) are not checked: they may reach into internals they test.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import aiproxy_core

ROOT = Path(__file__).resolve().parent.parent


def _checked_files() -> list[Path]:
    roots = [*ROOT.glob("aiproxy_plugins/*/aiproxy_*"), ROOT / "sdk" / "aiproxy_sdk", ROOT / "cookbook"]
    return sorted(path for root in roots if root.is_dir() for path in root.rglob("*.py"))


def _public_module(name: str) -> types.ModuleType | None:
    value = getattr(aiproxy_core, name, None) if name in aiproxy_core.__all__ else None
    return value if isinstance(value, types.ModuleType) else None


def _problems(tree: ast.AST) -> Iterator[tuple[int, str]]:
    exported = set(aiproxy_core.__all__)
    package_names: set[str] = set()  # local names bound to the aiproxy_core package itself
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            parts = node.module.split(".")
            if parts[0] != "aiproxy_core":
                continue
            if len(parts) == 1:
                for alias in node.names:
                    if alias.name != "*" and alias.name not in exported:
                        yield node.lineno, f"imports {alias.name!r} from aiproxy_core, which does not export it"
                continue
            module = _public_module(parts[1]) if len(parts) == 2 else None
            if module is None:
                yield node.lineno, f"imports from {node.module}, which is not a public module of aiproxy_core"
                continue
            for alias in node.names:
                if alias.name != "*" and alias.name not in module.__all__:
                    yield node.lineno, f"imports {alias.name!r} from {node.module}, which does not export it"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] != "aiproxy_core":
                    continue
                if len(parts) == 1:
                    package_names.add(alias.asname or "aiproxy_core")
                elif len(parts) > 2 or _public_module(parts[1]) is None:
                    yield node.lineno, f"imports {alias.name}, which is not a public module of aiproxy_core"
                elif alias.asname is None:
                    package_names.add("aiproxy_core")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in package_names
            and node.attr not in exported
        ):
            yield node.lineno, f"uses aiproxy_core.{node.attr}, which aiproxy_core does not export"


def test_the_checked_tree_is_found():
    files = {path.relative_to(ROOT).as_posix() for path in _checked_files()}
    assert "sdk/aiproxy_sdk/live.py" in files
    assert any(name.startswith("aiproxy_plugins/billing/aiproxy_billing/") for name in files)
    assert not any("/tests/" in name for name in files if name.startswith("aiproxy_plugins/"))


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from aiproxy_core import hookimpl, BadRequest", []),
        ("from aiproxy_core.sse import split_events", []),
        ("import aiproxy_core.sse\nimport aiproxy_core as core\ncore.hookimpl", []),
        ("from aiproxy_core.server.uvicorn_configs import listener_configs", ["not a public module"]),
        ("def f():\n    from aiproxy_core.json_text import strict_loads", ["not a public module"]),
        ("from aiproxy_core import json_text", ["does not export it"]),
        ("from aiproxy_core.sse import _LINE_BREAK", ["does not export it"]),
        ("import aiproxy_core.admin.lookups", ["not a public module"]),
        ("import aiproxy_core.sse.x", ["not a public module"]),
        ("import aiproxy_core\naiproxy_core.gateway.Gateway", ["does not export"]),
    ],
)
def test_the_rule_reads_every_import_form(source: str, expected: list[str]):
    found = [message for _, message in _problems(ast.parse(source))]
    assert len(found) == len(expected), found
    assert all(part in message for part, message in zip(expected, found)), found


def test_plugins_sdk_and_cookbook_import_only_the_public_api():
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {message}"
        for path in _checked_files()
        for line, message in _problems(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    ]
    assert problems == [], "imports of aiproxy_core internals:\n" + "\n".join(sorted(problems))


#: What a plugin must not import: it keeps state only through the core's state API
#: (``services.state(...)``, docs/plugin_state.md), so every plugin runs on each backend.
STORAGE_CLIENTS = ("redis", "hiredis", "sqlite3")


def _storage_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            names = [node.module]
        for name in names:
            if name.split(".")[0] in STORAGE_CLIENTS:
                yield node.lineno, f"imports {name}: keep state through services.state(...) instead"


@pytest.mark.parametrize(
    "source, found",
    [
        ("import redis", 1),
        ("from redis.asyncio import Redis", 1),
        ("def f():\n    import sqlite3", 1),
        ("import hiredis, json", 1),
        ("from aiproxy_core.state import Values\nimport redistools", 0),
    ],
)
def test_the_storage_rule_reads_every_import_form(source: str, found: int) -> None:
    assert len(list(_storage_imports(ast.parse(source)))) == found


def test_no_plugin_opens_redis_or_sqlite_itself() -> None:
    plugin_files = [path for root in ROOT.glob("aiproxy_plugins/*/aiproxy_*") for path in root.rglob("*.py")]
    assert any("aiproxy_billing" in str(path) for path in plugin_files)
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {message}"
        for path in plugin_files
        for line, message in _storage_imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    ]
    assert problems == [], "plugins with storage clients of their own:\n" + "\n".join(sorted(problems))
