#!/usr/bin/env bash
# Installs the Debian packages listed in .ci/system-packages.txt (root, fresh machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pkgs=$(grep -v '^\s*#' "$here/system-packages.txt" | tr '\n' ' ')
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
