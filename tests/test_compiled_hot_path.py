"""The hot path compiled with mypyc (aiproxy_core/compiled): this run serves the build, a build
that no longer matches its sources is never loaded, and the pure Python it falls back to passes the
listener's and the upstream client's tests."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from aiproxy_core.compiled.build import build
from aiproxy_core.compiled.loader import check_build, hot_path
from aiproxy_core.compiled.manifest import module_path
from aiproxy_core.compiled.modules import BUILD_DIR, HOT_PATH_MODULES, MANIFEST, PURE_PYTHON_ENV

ROOT = Path(__file__).resolve().parent.parent
SUFFIX = str(sysconfig.get_config_var("EXT_SUFFIX"))
PURE = os.environ.get(PURE_PYTHON_ENV, "") not in ("", "0")


def test_this_run_serves_the_compiled_modules_unless_pure_python_was_asked_for():
    # scripts/test.sh builds first (install.sh): a run without the build would test other code
    # than the gateway serves.
    assert hot_path().compiled is not PURE, hot_path().describe()
    for name in HOT_PATH_MODULES:
        __import__(name)
        assert sys.modules[name].__file__.endswith(SUFFIX) is not PURE, name


def test_a_build_that_matches_its_sources_is_not_built_again():
    assert build().endswith("is up to date")


@pytest.fixture
def build_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "build"
    shutil.copytree(BUILD_DIR, copy)
    return copy


def edit_manifest(build_dir: Path, change) -> None:
    manifest = json.loads((build_dir / MANIFEST).read_text())
    change(manifest)
    (build_dir / MANIFEST).write_text(json.dumps(manifest))


def test_a_copy_of_the_build_can_serve(build_copy):
    if PURE:
        assert not check_build(build_copy).compiled
    else:
        assert check_build(build_copy).compiled


def test_a_changed_source_makes_the_whole_build_unusable(build_copy):
    # The modules call each other in C and are compiled against what they import: one edited
    # file (compiled or imported by one) and none of the build is loaded.
    def edited(manifest):
        manifest["sources"]["aiproxy_core.errors"] = "0" * 64  # imported by the protocol, not compiled

    edit_manifest(build_copy, edited)
    state = check_build(build_copy)
    assert not state.compiled
    if not PURE:
        assert "aiproxy_core.errors changed since it was built" in state.reason
        assert "scripts/install.sh rebuilds it" in state.describe()


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda m: m.update(python="3.12.0 (main)"), "it was built for Python 3.12.0"),
        (lambda m: m.update(modules=m["modules"][:-1]), "the list of compiled modules changed"),
        (lambda m: m["libraries"].update({HOT_PATH_MODULES[0]: "gone.so"}), "lacks gone.so"),
        (lambda m: m.pop("sources"), "no compiled build"),
    ],
)
def test_a_build_for_another_interpreter_list_or_with_files_missing_is_not_loaded(build_copy, change, reason):
    edit_manifest(build_copy, change)
    state = check_build(build_copy)
    assert not state.compiled
    if not PURE:
        assert reason in state.reason


def test_no_build_at_all_is_pure_python(tmp_path):
    state = check_build(tmp_path)
    assert not state.compiled and state.describe().startswith("hot path: pure Python")


def test_the_pure_python_switch_loads_the_py_files():
    shown = subprocess.run(
        [sys.executable, "-c", "import aiproxy_core.server.proxy_protocol as p; from aiproxy_core.compiled.loader import hot_path;"
         " print(p.__file__); print(hot_path().describe())"],
        capture_output=True, text=True, timeout=60, env={**os.environ, PURE_PYTHON_ENV: "1"}, check=True,
    )
    module_file, described = shown.stdout.splitlines()
    assert module_file.endswith("server/proxy_protocol.py")
    assert described == f"hot path: pure Python ({PURE_PYTHON_ENV} is set)"


def test_no_compiled_module_awaits_in_a_finally_block():
    # Compiled, proxy/app.py's _send raised a caught exception again once the `await` in its
    # `finally` had run (mypy 2.4). Keep the pattern out of the compiled modules.
    for name in HOT_PATH_MODULES:
        for node in ast.walk(ast.parse(module_path(name).read_text())):
            if isinstance(node, ast.Try) and node.finalbody:
                awaits = [n for statement in node.finalbody for n in ast.walk(statement) if isinstance(n, ast.Await)]
                assert not awaits, f"{name}, line {node.lineno}: an await in a finally block of a compiled module"


def test_no_compiled_module_raises_from():
    # Compiled, `raise error from cause` sets no __cause__ (mypy 2.4): a plugin failure's trace
    # named PluginFailed instead of the plugin's own exception. aiproxy_core.compiled.raise_from
    # sets the chain instead.
    for name in HOT_PATH_MODULES:
        for node in ast.walk(ast.parse(module_path(name).read_text())):
            if isinstance(node, ast.Raise):
                assert node.cause is None, f"{name}, line {node.lineno}: `raise ... from` in a compiled module; use raised_from()"


@pytest.mark.skipif(PURE, reason="this run is already pure Python: the tests below run in it directly")
def test_the_listener_and_upstream_tests_pass_on_the_pure_python_fallback():
    # The fallback is what a machine without a C compiler serves: its protocol, limits and
    # upstream client are held to the same tests.
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "faulthandler_timeout=120",
         "tests/test_proxy_protocol.py", "tests/test_response_cycle.py", "tests/test_http_limits.py", "tests/upstream",
         "tests/test_request_integrity.py", "tests/routing"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, PURE_PYTHON_ENV: "1"},
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    assert " passed" in ran.stdout.splitlines()[-1] and "failed" not in ran.stdout.splitlines()[-1]
