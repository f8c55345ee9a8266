#!/bin/bash
# Prints the plugin folders under aiproxy_plugins/ of one kind, one a line:
#   light  the plugins that need no torch (what ./scripts/run.sh installs)
#   torch  those whose dependencies name torch or a library built on it (sentence-transformers,
#          faiss), directly or through aiproxy-embeddings: `aiproxy install --bundle ai` installs
#          them (tests/test_install_scripts.py checks that the bundle and these agree)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: scripts/plugin_folders.sh light|torch}
for p in aiproxy_plugins/*/pyproject.toml; do
  [[ -e $p ]] || continue
  needs=light
  if grep -qE '"(torch|sentence-transformers|faiss-cpu|aiproxy-embeddings)[^a-z0-9_-]' "$p"; then needs=torch; fi
  if [[ $needs == "$kind" ]]; then dirname "$p"; fi
done
