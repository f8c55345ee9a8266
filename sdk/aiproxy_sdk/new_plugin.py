"""``aiproxy-new-plugin NAME``: a new plugin package whose tests pass at once.

It writes ``aiproxy-<name>/`` with a pyproject (entry point in the ``aiproxy`` group), a plugin
module with a settings model and a ``pre_request`` hook, a README and tests that use this SDK's
fixtures. Then: ``pip install -e aiproxy-<name>`` (into the gateway's environment) and ``pytest
aiproxy-<name>``; a running gateway loads the plugin when restarted.
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib.resources import files
from pathlib import Path

NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
#: Template file -> where it goes; ``{module}`` is ``aiproxy_<name>``.
LAYOUT = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "plugin.py.tmpl": "{module}/plugin.py",
    "init.py.tmpl": "{module}/__init__.py",
    "test_plugin.py.tmpl": "tests/test_plugin.py",
}


def render(name: str, target: Path) -> Path:
    """Write the package for plugin ``name`` under ``target``; returns its folder."""
    if not NAME.match(name):
        raise ValueError(f"{name!r} is not a plugin name: use lowercase letters, digits and underscores, e.g. prompt_guard")
    module = f"aiproxy_{name}"
    root = target / f"aiproxy-{name.replace('_', '-')}"
    if root.exists():
        raise FileExistsError(f"{root} exists already; pick another name or folder")
    values = {"name": name, "module": module, "distribution": f"aiproxy-{name.replace('_', '-')}"}
    templates = files(__package__).joinpath("template")
    for source, destination in LAYOUT.items():
        path = root / destination.format(module=module)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = templates.joinpath(source).read_text()
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        path.write_text(text)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aiproxy-new-plugin", description="Create a new aiproxy plugin package.")
    parser.add_argument("name", help="the plugin's name, as chains will use it (e.g. prompt_guard)")
    parser.add_argument("--dir", default=".", help="where to create the package folder (default: here)")
    args = parser.parse_args(argv)
    try:
        root = render(args.name, Path(args.dir))
    except (ValueError, FileExistsError) as exc:
        print(f"aiproxy-new-plugin: {exc}", file=sys.stderr)
        return 2
    print(
        f"created {root}\nnext, with the pip of the gateway's own environment (./scripts/run.sh's: .venv/bin/pip):\n"
        f"  pip install -e {root}\n  pytest {root}\n  aiproxy plugins   # lists {args.name}\n"
        "then restart the gateway: plugins are found when `aiproxy serve` starts"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
