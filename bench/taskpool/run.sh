#!/usr/bin/env bash
# Runs the side-by-side task pool benchmark and prints the tables of
# README.md. It takes a few minutes; run it on a quiet machine (check the
# load average first: the wall-clock rates move with every other program).
#   bench/taskpool/run.sh [raw-output-file]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp)}
count=${COUNT:-3}
{
  go test -run '^$' -bench 'Ceiling' -benchtime 200000x -count "$count" ./taskpool/
  go test -run '^$' -bench 'Pools/task=tiny/' -benchtime 2000000x -count "$count" ./taskpool/
  go test -run '^$' -bench 'Pools/task=1us/' -benchtime 300000x -count "$count" ./taskpool/
} | tee "$out"
echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
go run ./taskpool/table < "$out"
