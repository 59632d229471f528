#!/usr/bin/env bash
# Installs npm peers into testdata/node (never into the library). Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
transport/ws/testdata/node/install.sh
