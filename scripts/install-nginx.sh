#!/usr/bin/env bash
# Install Debian's nginx-light for the multi-host tests (nginx balancing several app hosts),
# unless an nginx is already there. Without it those tests skip (and fail under CI=true).
set -euo pipefail
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's nginx-light for the multi-host tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
elif command -v sudo >/dev/null && command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
else
  echo "No nginx and no way to install it here: the multi-host tests will be skipped." >&2
fi
