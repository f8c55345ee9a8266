"""scripts/install.sh as run.sh and test.sh use it: which plugins each installs, and the stamp that
lets a second start skip pip. pip and the aiproxy command are stand-ins that record their calls
(the real pip run is measured by hand: see the README), so these tests take a second."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from aiproxy_core.bundles import BUNDLES, TORCH_PLUGINS, pip_commands

ROOT = Path(__file__).resolve().parent.parent
#: Requirements that bring torch (sentence-transformers and faiss run on it or beside it).
TORCH_REQUIREMENTS = ("torch", "sentence-transformers", "faiss-cpu", "aiproxy-embeddings")

RECORDER = """#!/bin/bash
echo "$(basename "$0") $*" >> "$(dirname "$0")/../../calls.log"
exit ${FAIL:-0}
"""


def plugin_needs_torch(folder: Path) -> bool:
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    names = [requirement.split(">")[0].split("=")[0].split("[")[0].strip() for requirement in project["dependencies"]]
    return any(name in TORCH_REQUIREMENTS for name in names)


def test_the_ai_bundle_is_every_plugin_that_needs_torch():
    needing = {p.parent.name for p in (ROOT / "aiproxy_plugins").glob("*/pyproject.toml") if plugin_needs_torch(p.parent)}
    assert needing == TORCH_PLUGINS == set(BUNDLES["ai"].plugins)
    for kind, expected in (("torch", needing), ("light", {p.parent.name for p in (ROOT / "aiproxy_plugins").glob("*/pyproject.toml")} - needing)):
        listed = subprocess.run([str(ROOT / "scripts" / "plugin_folders.sh"), kind], capture_output=True, text=True, check=True).stdout
        assert {Path(line).name for line in listed.split()} == expected, kind


def test_a_torch_plugin_gets_the_pinned_cpu_torch_first_and_embeddings_with_it():
    commands = pip_commands(["cache"], "repo", "https://download.pytorch.org/whl/cpu")
    assert commands[0][-3:] == ["torch==2.13.0", "--index-url", "https://download.pytorch.org/whl/cpu"]
    plugins = commands[1][commands[1].index("install") + 1 :]
    assert [arg.rsplit("/", 1)[-1] for arg in plugins if arg != "-e" and not arg.startswith("--")] == ["embeddings", "cache"]
    assert len(pip_commands(["rate_limiter"], "repo")) == 1  # no torch for the others


def test_install_bundle_ai_shows_torch_first(tmp_path):
    shown = subprocess.run(
        [sys.executable, "-m", "aiproxy_core.cli.main", "install", "--bundle", "ai", "--source", "repo", "--dry-run"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "TORCH_INDEX_URL": ""},
    )
    assert shown.returncode == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if line.startswith("$ ")]
    assert lines[0].endswith("pip install --disable-pip-version-check torch==2.13.0")
    assert "aiproxy_plugins/embeddings" in lines[1] and "aiproxy_plugins/rag" in lines[1]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The files install.sh reads, and a .venv whose python and aiproxy only record their calls."""
    root = tmp_path / "checkout"
    for relative in ["scripts/install.sh", "scripts/plugin_folders.sh", "pyproject.toml", "sdk/pyproject.toml"] + [
        str(p.relative_to(ROOT)) for p in ROOT.glob("aiproxy_plugins/*/pyproject.toml")
    ]:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, root / relative)
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "aiproxy"):
        (bin_dir / name).write_text(RECORDER)
        (bin_dir / name).chmod(0o755)
    return root


def install(root: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    log = root / "calls.log"
    log.unlink(missing_ok=True)
    ran = subprocess.run(
        ["bash", "scripts/install.sh", *args], cwd=root, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHON": sys.executable, "AIPROXY_REINSTALL": "", **env},
    )
    return ran, log.read_text().splitlines() if log.exists() else []


def test_the_demo_install_leaves_torch_out_and_a_second_start_skips_pip(checkout):
    ran, calls = install(checkout)
    assert ran.returncode == 0, ran.stderr
    assert "==> [2/2] aiproxy-core, aiproxy-sdk and the plugins without torch" in ran.stdout
    assert len(calls) == 2 and calls[0] == "python -m pip install --disable-pip-version-check setuptools>=70.1"
    assert calls[1].startswith("python -m pip install --disable-pip-version-check --no-build-isolation -e . -e ./sdk")
    for plugin in ("rate_limiter", "billing", "analytics"):
        assert f"-e aiproxy_plugins/{plugin}" in calls[1]
    for plugin in TORCH_PLUGINS:
        assert plugin not in calls[1]
    assert "aiproxy install --bundle ai" in ran.stdout  # the way to the AI plugins is shown

    again, calls = install(checkout)
    assert again.returncode == 0 and calls == []
    assert "up to date" in again.stdout

    forced, calls = install(checkout, AIPROXY_REINSTALL="1")
    assert len(calls) == 2


def test_a_changed_pyproject_installs_again(checkout):
    install(checkout)
    pyproject = checkout / "aiproxy_plugins" / "rate_limiter" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n# a new dependency, say\n")
    ran, calls = install(checkout)
    assert ran.returncode == 0 and len(calls) == 2


def test_the_test_install_adds_test_extras_and_the_ai_bundle_and_serves_the_demo_too(checkout):
    install(checkout)  # a demo install first: not enough for the tests
    ran, calls = install(checkout, "--test")
    assert ran.returncode == 0, ran.stderr
    assert calls[1].startswith("python -m pip install --disable-pip-version-check --no-build-isolation -e .[test] -e ./sdk")
    assert calls[2] == "aiproxy install --bundle ai --source repo"
    assert "==> [3/3] the AI plugins" in ran.stdout
    assert install(checkout, "--test")[1] == []
    assert install(checkout)[1] == []  # everything the demo needs is there


def test_a_failed_install_leaves_no_stamp(checkout):
    ran, calls = install(checkout, FAIL="1")
    assert ran.returncode != 0 and len(calls) == 1  # stopped at the first failed step
    assert not list((checkout / ".venv").glob(".aiproxy-installed-*"))
    assert len(install(checkout)[1]) == 2  # tried again
