"""``aiproxy --version``: the installed versions, at once (no plugin is imported for it)."""

from __future__ import annotations

from importlib import metadata

from aiproxy_core import __version__
from aiproxy_core.cli.main import main
from aiproxy_sdk import run_aiproxy


def test_version_names_the_core_the_sdk_and_the_plugins():
    shown = run_aiproxy("--version")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"aiproxy-core {metadata.version('aiproxy-core')}"
    assert f"aiproxy-sdk {metadata.version('aiproxy-sdk')}" in lines
    plugins = next(line for line in lines if line.startswith("plugins: "))
    assert f"rate_limiter {metadata.version('aiproxy-rate-limiter')}" in plugins
    assert run_aiproxy("-V").stdout == shown.stdout


def test_version_is_in_the_help_and_needs_no_plugin_loaded(capsys, monkeypatch):
    assert "--version" in run_aiproxy("--help").stdout

    def no_loading(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("--version loaded the plugins")

    monkeypatch.setattr("aiproxy_core.cli.main.build_parser", no_loading)
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("aiproxy-core ")


def test_the_package_and_its_metadata_agree():
    assert __version__ == metadata.version("aiproxy-core")
