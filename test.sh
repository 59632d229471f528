#!/usr/bin/env bash
# The whole test suite, with the race detector. README.md and .ci/run both call this.
set -euo pipefail
cd "$(dirname "$0")"
go test -race -count=1 -timeout 15m ./...
