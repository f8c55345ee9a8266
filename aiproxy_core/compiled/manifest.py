"""What a build was made from: the sources' hashes, checked before a compiled module is loaded.

mypyc compiles a module against the types of what it imports, and several modules into one
library that calls across them in C. So a build is used whole or not at all, and only while every
compiled module and every ``aiproxy_core`` module they import are the bytes it was built from.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Manifest", "core_sources", "read_manifest"]

#: The folder holding the ``aiproxy_core`` package: module names resolve against it.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def module_path(module: str) -> Path:
    """The ``.py`` file of a module of ``aiproxy_core`` (a package's ``__init__.py``)."""
    base = PACKAGE_ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def core_sources(modules: tuple[str, ...]) -> dict[str, str]:
    """SHA-256 of each module and of each ``aiproxy_core`` module it imports, by module name."""
    names = set(modules)
    for module in modules:
        names.update(_core_imports(module))
    return {name: _sha256(module_path(name)) for name in sorted(names)}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _core_imports(module: str) -> set[str]:
    tree = ast.parse(module_path(module).read_bytes())
    package = module if module_path(module).name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for name in candidates:
            if name.split(".")[0] == "aiproxy_core" and _exists(name):
                found.add(name)
    return found


def _exists(module: str) -> bool:
    return module_path(module).is_file()


@dataclass(frozen=True)
class Manifest:
    """The build's record (``manifest.json`` in the build folder)."""

    python: str  # sys.version: the interpreter the libraries were compiled for
    ext_suffix: str
    modules: tuple[str, ...]  # compiled, in HOT_PATH_MODULES order
    libraries: dict[str, str]  # module name (and the group's support library) -> file in the build folder
    sources: dict[str, str]  # core_sources() at build time

    @classmethod
    def for_build(cls, modules: tuple[str, ...], libraries: dict[str, str]) -> "Manifest":
        return cls(sys.version, _ext_suffix(), modules, libraries, core_sources(modules))

    def stale_reason(self, modules: tuple[str, ...]) -> str | None:
        """Why this build cannot be used with the sources and interpreter here; None if it can."""
        if self.python != sys.version or self.ext_suffix != _ext_suffix():
            return f"it was built for Python {self.python.split()[0]}"
        if self.modules != modules:
            return "the list of compiled modules changed since it was built"
        # The imports were read at build time: a new one means an edit, which changes a hash.
        try:
            changed = sorted(name for name, digest in self.sources.items() if _sha256(module_path(name)) != digest)
        except OSError as exc:
            return f"a source could not be read ({exc})"
        if changed:
            return f"{changed[0]} changed since it was built" + (f" (and {len(changed) - 1} more)" if len(changed) > 1 else "")
        return None

    def to_json(self) -> str:
        return json.dumps(
            {"python": self.python, "ext_suffix": self.ext_suffix, "modules": list(self.modules),
             "libraries": self.libraries, "sources": self.sources},
            indent=2,
        )


def read_manifest(path: Path) -> Manifest | None:
    """The manifest at ``path``; None if there is none or it cannot be read."""
    try:
        data: Any = json.loads(path.read_text())
        return Manifest(
            str(data["python"]), str(data["ext_suffix"]), tuple(data["modules"]),
            {str(k): str(v) for k, v in data["libraries"].items()}, {str(k): str(v) for k, v in data["sources"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _ext_suffix() -> str:
    return str(sysconfig.get_config_var("EXT_SUFFIX"))
