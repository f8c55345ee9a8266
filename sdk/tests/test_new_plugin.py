"""aiproxy-new-plugin: the package it writes passes its own tests at once."""

from __future__ import annotations

import os
import subprocess
import sys

from aiproxy_sdk.new_plugin import main


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
    assert "3 passed" in result.stdout


def test_bad_names_and_existing_folders_are_refused(tmp_path, capsys):
    assert main(["Bad-Name", "--dir", str(tmp_path)]) == 2
    assert "is not a plugin name" in capsys.readouterr().err
    assert main(["fine", "--dir", str(tmp_path)]) == 0
    assert main(["fine", "--dir", str(tmp_path)]) == 2
    assert "exists already" in capsys.readouterr().err
