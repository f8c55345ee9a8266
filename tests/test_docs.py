"""Every hook has a section in docs/plugin_hooks.md and a test named test_hook_<name>."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aiproxy_core import PluginRegistry

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name in vars(PluginRegistry().manager.hook) if not name.startswith("_"))
DOCS = (ROOT / "docs" / "plugin_hooks.md").read_text()
TESTS = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))


def test_the_hook_list_is_not_empty():
    assert {"pre_request", "post_request", "pre_response", "post_response", "response_chunk"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docs_section(hook):
    assert re.search(rf"^## {hook}$", DOCS, re.MULTILINE), f"docs/plugin_hooks.md has no '## {hook}' section"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    assert re.search(rf"def test_hook_{hook}\w*\(|def test_\w*hook_{hook}\w*\(", TESTS), f"no test named test_hook_{hook}... in tests/"
