"""Turning plugin names into ``pip install`` runs: from this repository when it is here, else an index."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .catalog import TORCH_PLUGINS, TORCH_REQUIREMENT, distribution_name, with_requirements

#: Where the plugin folders are when aiproxy runs from a checkout (an editable install).
REPOSITORY_PLUGINS = Path(__file__).resolve().parents[2] / "aiproxy_plugins"
PIP_INSTALL = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]


def pip_arguments(plugins: list[str], source: str) -> list[str]:
    """``source``: ``auto`` (the repository's folder when present, else the index), ``repo`` or ``index``."""
    arguments = []
    for plugin in plugins:
        folder = REPOSITORY_PLUGINS / plugin
        local = (folder / "pyproject.toml").is_file()
        if source == "repo" and not local:
            raise FileNotFoundError(f"no folder {folder} with a pyproject.toml: is this a checkout of the aiproxy repository?")
        if source == "repo" or (source == "auto" and local):
            arguments += ["-e", str(folder)]
        else:
            arguments.append(distribution_name(plugin))
    return [*PIP_INSTALL, *arguments]


def pip_commands(plugins: list[str], source: str, torch_index_url: str | None = None) -> list[list[str]]:
    """The pip runs that install ``plugins`` and what they need: the pinned torch first, by
    itself, when one of them runs on it (``torch_index_url``: the index it comes from)."""
    plugins = with_requirements(plugins)
    commands: list[list[str]] = []
    if TORCH_PLUGINS.intersection(plugins):
        commands.append([*PIP_INSTALL, TORCH_REQUIREMENT, *(["--index-url", torch_index_url] if torch_index_url else [])])
    commands.append(pip_arguments(plugins, source))
    return commands


def install(plugins: list[str], source: str) -> int:
    """Run :func:`pip_commands` in turn (``$TORCH_INDEX_URL`` honoured); pip's exit status."""
    for command in pip_commands(plugins, source, os.environ.get("TORCH_INDEX_URL") or None):
        status = subprocess.call(command)
        if status != 0:
            return status
    return 0
