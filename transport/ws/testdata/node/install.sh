#!/usr/bin/env bash
# Installs the npm peers of transport/ws's tests (the `ws` package) into this
# folder's node_modules, never into the library. CI calls it; so can you.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null; then
  echo "npm not found: install nodejs and npm (Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi
npm install --no-save --no-audit --no-fund --loglevel=error ws@8
node -e 'console.log("ws", require("ws/package.json").version)'
