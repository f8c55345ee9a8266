"""``python -m aiproxy_core.compiled.build``: compile the hot path with mypyc into the build folder.

Skipped when the build there matches the sources. The new build is made beside the old one and
swapped in whole, so a failed or interrupted build leaves the previous one (or none) in place.
Needs mypy (mypyc is part of it) and a C compiler; without them the gateway runs pure Python.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from .manifest import PACKAGE_ROOT, Manifest, module_path, read_manifest
from .modules import BUILD_DIR, GROUP, HOT_PATH_MODULES, MANIFEST

__all__ = ["build", "main"]

#: For mypy inside the build: the core's own settings live in the repository's pyproject.toml,
#: which an installed copy (the image) does not have; these are enough to compile.
_MYPY_CONFIG = """[mypy]
ignore_missing_imports = True
follow_imports = silent
cache_dir = {cache}
"""


def build(build_dir: Path = BUILD_DIR, *, force: bool = False) -> str:
    """Compile :data:`HOT_PATH_MODULES` into ``build_dir``; returns what was done, for the install's output."""
    current = read_manifest(build_dir / MANIFEST)
    if not force and current is not None and current.stale_reason(HOT_PATH_MODULES) is None:
        if all((build_dir / file).is_file() for file in current.libraries.values()):
            return f"the compiled hot path in {build_dir} is up to date"
    print(f"compiling {len(HOT_PATH_MODULES)} hot-path modules with mypyc (about 40 s)...", flush=True)
    from mypyc.build import mypycify  # mypy's: only the build needs it
    from setuptools import Distribution  # type: ignore[import-untyped]

    started = time.monotonic()
    suffix = str(sysconfig.get_config_var("EXT_SUFFIX"))
    fresh = build_dir.with_name(build_dir.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="aiproxy-compile-") as scratch:
        config = Path(scratch, "mypy.ini")
        config.write_text(_MYPY_CONFIG.format(cache=Path(scratch, "cache")))
        paths = [str(module_path(name).relative_to(PACKAGE_ROOT)) for name in HOT_PATH_MODULES]
        # Module names come from the paths, relative to the folder that holds aiproxy_core.
        with contextlib.chdir(PACKAGE_ROOT):
            sources = Manifest.for_build(HOT_PATH_MODULES, {})  # the bytes about to be compiled
            extensions = mypycify(["--config-file", str(config), *paths], opt_level="3", group_name=GROUP,
                                  target_dir=str(Path(scratch, "c")))
            distribution = Distribution({"name": "aiproxy-hot-path", "ext_modules": extensions})
            distribution.script_args = ["-q", "build_ext", "--build-lib", str(fresh), "--build-temp", str(Path(scratch, "o")),
                                        "--parallel", str(os.cpu_count() or 1)]
            distribution.parse_command_line()
            distribution.run_commands()
    libraries = {name: name.replace(".", "/") + suffix for name in HOT_PATH_MODULES}
    libraries[f"{GROUP}__mypyc"] = f"{GROUP}__mypyc{suffix}"
    missing = [file for file in libraries.values() if not (fresh / file).is_file()]
    if missing:
        raise RuntimeError(f"mypyc's build did not produce {missing[0]}")
    manifest = Manifest(sources.python, sources.ext_suffix, HOT_PATH_MODULES, libraries, sources.sources)
    (fresh / MANIFEST).write_text(manifest.to_json())
    old = build_dir.with_name(build_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if build_dir.exists():
        build_dir.rename(old)
    fresh.rename(build_dir)
    shutil.rmtree(old, ignore_errors=True)
    return f"compiled {len(HOT_PATH_MODULES)} hot-path modules with mypyc into {build_dir} in {time.monotonic() - started:.0f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiproxy_core.compiled.build", description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the build matches the sources")
    args = parser.parse_args(argv)
    try:
        print(build(force=args.force))
    except (ImportError, OSError, RuntimeError, SystemExit) as exc:  # setuptools exits on a compiler error
        why = "see the errors above" if isinstance(exc, SystemExit) else str(exc)
        print(f"aiproxy: the hot path could not be compiled ({why}); the gateway runs it as pure Python,"
              " which is slower (docs/benchmarks.md)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
