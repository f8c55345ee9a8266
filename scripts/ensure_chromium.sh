#!/bin/bash
# Makes sure Debian's headless Chromium is installed (the web pages' tests drive it with Playwright;
# Playwright's own browser download is never used, so the tests need no network), installing it if needed.
set -euo pipefail
command -v chromium >/dev/null && exit 0
echo "chromium not found; installing Debian's package with apt-get" >&2
sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
$sudo apt-get install -y -q chromium >/dev/null || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium >/dev/null; }
command -v chromium >/dev/null || { echo "chromium could not be installed" >&2; exit 1; }
