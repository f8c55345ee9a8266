#!/bin/bash
# Creates .venv (Python 3.11) and installs the core, the SDK and every plugin under aiproxy_plugins/.
# Usage: scripts/install.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "aiproxy needs Python 3.11 or newer" >&2; exit 2; }
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
core=.
[[ ${1:-} == --test ]] && core=".[test]"
plugins=()
for p in aiproxy_plugins/*/pyproject.toml; do [[ -e $p ]] && plugins+=(-e "$(dirname "$p")"); done
# torch first, pinned: the CPU build of 2.13.0 is what the AI plugins are tested with, and asking
# for it by itself keeps pip's resolver from pulling a multi-GB CUDA build for them. Elsewhere,
# TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu picks the CPU build from PyTorch's index.
"${pip[@]}" torch==2.13.0 ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
# pip warns about find-links folders this machine lacks; those lines say nothing about aiproxy.
"${pip[@]}" -e "$core" -e ./sdk "${plugins[@]}" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
