"""No Markdown file names a path of a developer's machine (a home folder, a scratch folder, the
folder a checkout happened to be in): a reader elsewhere has none of them."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Folders that hold no documentation of ours (environments, caches, build output).
SKIPPED = {".git", ".venv", "node_modules", "build", "dist", "__pycache__", ".mypy_cache", ".pytest_cache"}
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:home|Users|root|work|tmp)/[\w.$-]+")


def markdown_files() -> list[Path]:
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in SKIPPED and not name.endswith(".egg-info")]
        found += [Path(folder) / name for name in files if name.endswith((".md", ".md.tmpl"))]
    return found


def test_the_scan_sees_the_docs():
    names = {path.relative_to(ROOT).as_posix() for path in markdown_files()}
    assert {"README.md", "sdk/README.md", "docs/configuration.md", "sdk/aiproxy_sdk/template/README.md.tmpl"} <= names


def test_no_markdown_names_a_path_of_a_developers_machine():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {match.group(0)}"
        for path in markdown_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        for match in MACHINE_PATH.finditer(line)
    ]
    assert not found, "paths of a developer's machine in the docs:\n" + "\n".join(found)


def test_the_pattern_catches_what_it_should():
    for path in ("/home/ann/aiproxy/x.py", "/Users/bob/src", "/work/ann-checkout/README.md", "/tmp/scratch/notes.md", "/root/notes"):
        assert MACHINE_PATH.search(f"see {path} for it"), path
    for text in ("https://example.com/home/page", "docs/tmp/x", "`/v1/chat/completions`", "~/tmp/x"):
        assert not MACHINE_PATH.search(text), text
