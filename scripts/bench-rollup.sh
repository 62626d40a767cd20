#!/usr/bin/env bash
# Rollup benchmark (docs/benchmarks.md, "Rollups"): folding cost with and without a large history,
# and reads from rollups vs raw rows. Uses a private Postgres in a temp folder unless
# BENCH_DATABASE_URL names an empty database. Usage: scripts/bench-rollup.sh [-history N] [-new N]
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr); $(date -u +%FT%TZ)"
echo "command: scripts/bench-rollup.sh $*"
go run ./scripts/benchrollup "$@"
