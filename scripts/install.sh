#!/bin/bash
# Creates .venv (Python 3.11) and installs aiproxy into it, step by step with pip's own progress.
# Usage: scripts/install.sh [--test]
#   (none)   the core, the SDK and every plugin that needs no torch: what ./scripts/run.sh serves
#            (the AI plugins come later, when asked: .venv/bin/aiproxy install --bundle ai)
#   --test   everything the test suite needs: the core's test extras and every plugin, the AI
#            plugins (torch's CPU build first) through `aiproxy install --bundle ai`
# A stamp in .venv holds a hash of every pyproject.toml and of the install scripts: when they have not
# changed since the last successful install, pip is skipped (every package is installed editable,
# so source changes need no reinstall, while pip itself would rebuild each one: about a minute).
# AIPROXY_REINSTALL=1 runs pip anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "aiproxy needs Python 3.11 or newer" >&2; exit 2; }
mode=demo
[[ ${1:-} == --test ]] && mode=test

step() { printf '\n==> %s\n' "$*"; }

# What an install depends on: every pyproject.toml (dependencies, entry points; a plugin folder
# added or removed changes the list) and the install scripts.
fingerprint() {
  "$python" - scripts/install.sh scripts/plugin_folders.sh pyproject.toml sdk/pyproject.toml aiproxy_plugins/*/pyproject.toml <<'PY'
import hashlib
import sys

digest = hashlib.sha256()
for path in sys.argv[1:]:
    with open(path, "rb") as file:
        digest.update(path.encode() + b"\0" + file.read() + b"\0")
print(digest.hexdigest())
PY
}
current=$(fingerprint)
stamp() { echo ".venv/.aiproxy-installed-$1"; }
# A test install holds everything a demo install does, so either stamp will do for the demo.
up_to_date() { [[ -x .venv/bin/aiproxy && -f $(stamp "$1") && $(<"$(stamp "$1")") == "$current" ]]; }
if [[ -z ${AIPROXY_REINSTALL:-} ]] && { up_to_date test || { [[ $mode == demo ]] && up_to_date demo; }; }; then
  echo "aiproxy: .venv is up to date (no pyproject.toml and no install script changed since it was installed); pip skipped"
  exit 0
fi

if [[ ! -x .venv/bin/python ]]; then
  step "creating .venv ($("$python" --version))"
  "$python" -m venv .venv
fi
rm -f "$(stamp demo)" "$(stamp test)"  # an install that fails half-way leaves no stamp behind

light=() heavy=()
while read -r folder; do light+=("$folder"); done < <(scripts/plugin_folders.sh light)
while read -r folder; do heavy+=("${folder##*/}"); done < <(scripts/plugin_folders.sh torch)
editable=()
for folder in "${light[@]}"; do editable+=(-e "$folder"); done
# pip warns about find-links folders this machine lacks; those lines say nothing about aiproxy.
quiet_stderr() { grep -v "is ignored: it is neither a file nor a directory" >&2 || true; }
pip=(.venv/bin/python -m pip install --disable-pip-version-check)

core=.
[[ $mode == test ]] && core=".[test]"
steps=2
[[ $mode == test ]] && steps=3
# Each editable package would otherwise get a build environment of its own, with setuptools
# fetched into it: about 14 s apiece, most of a first install's time. One setuptools (>= 70.1
# builds wheels without the wheel package) in .venv serves them all.
step "[1/$steps] setuptools, to build aiproxy's packages"
"${pip[@]}" "setuptools>=70.1" 2> >(quiet_stderr)
step "[2/$steps] aiproxy-core${core#.}, aiproxy-sdk and the plugins without torch: ${light[*]##*/}"
"${pip[@]}" --no-build-isolation -e "$core" -e ./sdk ${editable[@]+"${editable[@]}"} 2> >(quiet_stderr)
if [[ $mode == test ]]; then
  step "[3/3] the AI plugins, torch's CPU build first: ${heavy[*]}"
  .venv/bin/aiproxy install --bundle ai --source repo 2> >(quiet_stderr)
fi
echo "$current" >"$(stamp "$mode")"
step "installed into .venv (next start skips pip until a pyproject.toml changes)"
if [[ $mode == demo ]]; then
  echo "    the AI plugins (moderation, rag, cache; torch, CPU build) when you want them: .venv/bin/aiproxy install --bundle ai"
fi
