#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests, unless a Chromium is already there.
# Playwright drives this browser directly; `playwright install` (a CDN download) is never used.
set -euo pipefail
chromium="${E2E_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$chromium" ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
elif command -v sudo >/dev/null && command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "No Chromium at $chromium and no way to install it here: browser tests will be skipped" \
       "(set E2E_CHROMIUM to a Chromium binary to run them)." >&2
fi
