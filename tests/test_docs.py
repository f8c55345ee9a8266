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


def _documented_signature(hook: str) -> list[str]:
    """The argument names of the signature line under a hook's heading: `hook(a, b) -> ...`."""
    section = re.search(rf"^## {hook}$(.*?)(?=^## |\Z)", DOCS, re.MULTILINE | re.DOTALL)
    assert section, f"docs/plugin_hooks.md has no '## {hook}' section"
    line = re.search(rf"^`{hook}\(([^)]*)\)", section.group(1), re.MULTILINE)
    assert line, f"the '## {hook}' section does not start with its signature: `{hook}(...) -> ...`"
    return [name.strip() for name in line.group(1).split(",") if name.strip()]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_documented_signature_matches_the_spec(hook):
    spec = getattr(PluginRegistry().manager.hook, hook).spec
    assert spec is not None
    assert _documented_signature(hook) == list(spec.argnames), (
        f"docs/plugin_hooks.md shows {hook}({', '.join(_documented_signature(hook))}), "
        f"the spec in hookspecs.py is {hook}({', '.join(spec.argnames)})"
    )
