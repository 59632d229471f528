#!/usr/bin/env bash
# Runs golangci-lint (pinned, installed outside the library's go.mod) over
# the library module with the linters listed in .golangci.yml.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=v2.15.0
BIN="${GETTY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/getty-tools}/golangci-lint-$VERSION"
if [ ! -x "$BIN/golangci-lint" ]; then
  mkdir -p "$BIN"
  # Built from the module proxy at the pinned version, in a directory of its
  # own so that the library's go.mod is left alone.
  (cd "$BIN" && GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$VERSION")
fi
"$BIN/golangci-lint" version
"$BIN/golangci-lint" run ./...
