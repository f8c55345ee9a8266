"""The README's example plugin, run as printed: prompts over the limit are refused, and bodies of
another shape are the client's 400, never a 500."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def readme_plugin() -> types.ModuleType:
    """The first Python block of "Writing a plugin", as a module."""
    section = README[README.index("### Writing a plugin") :]
    source = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert source, "README's 'Writing a plugin' has no python block"
    module = types.ModuleType("prompt_length_guard")
    exec(compile(source.group(1), "README.md", "exec"), module.__dict__)
    return module


@pytest.fixture
async def guarded(aiproxy_gateway_factory):  # type: ignore[no-untyped-def]
    plugin = readme_plugin()
    return await aiproxy_gateway_factory(
        plugins={"prompt_length_guard": plugin}, chain=[{"name": "prompt_length_guard", "settings": {"max_chars": 5}}]
    )


async def test_the_readme_plugin_refuses_long_prompts(guarded):
    assert (await guarded.chat("hi")).status_code == 200
    refused = await guarded.chat("far too long")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "prompt_too_long"


@pytest.mark.parametrize(
    "body",
    [
        [{"role": "user", "content": "hi"}],
        {"model": "mock-model", "messages": ["hi"]},
        {"model": "mock-model", "messages": "hi"},
        "just a string",
    ],
)
async def test_the_readme_plugin_answers_bad_bodies_with_400(guarded, body):
    response = await guarded.proxy.post("/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_messages"
