"""Load the compiled hot path when its build matches the sources (see :mod:`.manifest`)."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Sequence

from .manifest import read_manifest
from .modules import BUILD_DIR, HOT_PATH_MODULES, MANIFEST, PURE_PYTHON_ENV

__all__ = ["HotPath", "check_build", "hot_path", "use_compiled"]


@dataclass(frozen=True)
class HotPath:
    """What this process runs: ``compiled`` modules from ``build_dir``, or pure Python and why."""

    compiled: bool
    reason: str
    build_dir: Path

    def describe(self) -> str:
        if self.compiled:
            return f"hot path: {len(HOT_PATH_MODULES)} modules compiled with mypyc ({self.build_dir})"
        return f"hot path: pure Python ({self.reason})"


class _CompiledFinder(importlib.abc.MetaPathFinder):
    """Finds the build's extension modules (and their shared library) before the ``.py`` files."""

    def __init__(self, libraries: dict[str, Path]) -> None:
        self._libraries = libraries

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        library = self._libraries.get(fullname)
        if library is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(library))
        return importlib.util.spec_from_file_location(fullname, library, loader=loader)


_state: HotPath | None = None


def use_compiled(build_dir: Path = BUILD_DIR) -> HotPath:
    """Put the build's finder first on ``sys.meta_path`` if the build can be used (once per process)."""
    global _state
    if _state is None:
        _state = check_build(build_dir)
        if _state.compiled and any(name in sys.modules for name in HOT_PATH_MODULES):
            _state = HotPath(False, "its modules were imported before aiproxy_core", build_dir)
        if _state.compiled:
            manifest = read_manifest(build_dir / MANIFEST)
            assert manifest is not None
            sys.meta_path.insert(0, _CompiledFinder({name: build_dir / file for name, file in manifest.libraries.items()}))
    return _state


def hot_path() -> HotPath:
    """What :func:`use_compiled` decided (it runs when ``aiproxy_core`` is imported)."""
    return use_compiled()


def check_build(build_dir: Path) -> HotPath:
    """Whether the build in ``build_dir`` can serve this process (nothing is loaded here)."""
    if os.environ.get(PURE_PYTHON_ENV, "") not in ("", "0"):
        return HotPath(False, f"{PURE_PYTHON_ENV} is set", build_dir)
    manifest = read_manifest(build_dir / MANIFEST)
    if manifest is None:
        return HotPath(False, f"no compiled build in {build_dir}; scripts/install.sh makes one", build_dir)
    stale = manifest.stale_reason(HOT_PATH_MODULES)
    if stale is not None:
        return HotPath(False, f"the compiled build is out of date: {stale}; scripts/install.sh rebuilds it", build_dir)
    missing = [file for file in manifest.libraries.values() if not (build_dir / file).is_file()]
    if missing:
        return HotPath(False, f"the compiled build lacks {missing[0]}; scripts/install.sh rebuilds it", build_dir)
    return HotPath(True, "", build_dir)
