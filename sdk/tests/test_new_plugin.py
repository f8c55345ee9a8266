"""aiproxy-new-plugin: the package it writes passes its own tests at once."""

from __future__ import annotations

import os
import subprocess
import sys

from aiproxy_sdk.new_plugin import main, render


def test_a_new_plugin_package_passes_its_tests(tmp_path, capsys):
    assert main(["shout_guard", "--dir", str(tmp_path)]) == 0
    root = tmp_path / "aiproxy-shout-guard"
    assert "pip install -e" in capsys.readouterr().out
    assert (root / "aiproxy_shout_guard" / "plugin.py").is_file()
    assert 'shout_guard = "aiproxy_shout_guard.plugin"' in (root / "pyproject.toml").read_text()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root)],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


def test_bad_names_and_existing_folders_are_refused(tmp_path, capsys):
    assert main(["Bad-Name", "--dir", str(tmp_path)]) == 2
    assert "is not a plugin name" in capsys.readouterr().err
    assert main(["fine", "--dir", str(tmp_path)]) == 0
    assert main(["fine", "--dir", str(tmp_path)]) == 2
    assert "exists already" in capsys.readouterr().err


async def test_the_generated_plugin_answers_bad_bodies_400_and_matches_any_case(tmp_path, aiproxy_gateway_factory):
    """The template's plugin itself, loaded from what it generates: bodies of another shape are
    the client's 400 (not a 500), and the blocked word matches whatever its letter case."""
    import importlib.util

    root = render("case_guard", tmp_path)
    spec = importlib.util.spec_from_file_location("generated_case_guard", root / "aiproxy_case_guard" / "plugin.py")
    assert spec is not None and spec.loader is not None
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    gw = await aiproxy_gateway_factory(plugins={"case_guard": plugin}, chain=[{"name": "case_guard", "settings": {"blocked_word": "SeCrEt"}}])
    for body in ([{"role": "user", "content": "hi"}], {"messages": ["hi"]}, {"messages": [{"role": "user", "content": "x"}, 3]}):
        response = await gw.proxy.post("/v1/chat/completions", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] == "case_guard_bad_body"
    for prompt in ("the secret", "THE SECRET"):
        response = await gw.chat(prompt)
        assert response.status_code == 400 and response.json()["error"]["code"] == "case_guard_blocked"
    assert (await gw.chat("nothing to hide")).status_code == 200
