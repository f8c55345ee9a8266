"""Turning plugin names into one ``pip install``: from this repository when it is here, else an index."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .catalog import distribution_name

#: Where the plugin folders are when aiproxy runs from a checkout (an editable install).
REPOSITORY_PLUGINS = Path(__file__).resolve().parents[2] / "aiproxy_plugins"


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
    return [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *arguments]


def install(plugins: list[str], source: str) -> int:
    return subprocess.call(pip_arguments(plugins, source))
