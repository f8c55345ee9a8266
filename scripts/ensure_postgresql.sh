#!/bin/bash
# Makes sure Debian's PostgreSQL server binaries are installed: the tests start private servers
# from them (aiproxy_sdk.private_postgresql), never a shared one.
set -euo pipefail
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && exit 0
echo "PostgreSQL's initdb not found; installing the postgresql package with apt-get" >&2
sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
$sudo apt-get install -y -q postgresql >/dev/null || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q postgresql >/dev/null; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null
