#!/usr/bin/env bash
# Measures prawn export and prawn import (docs/benchmarks.md, "Export and import"): for each size
# (views), a database seeded with `prawn seed --views N --days 30` and folded, then
#   - prawn export --format csv|jsonl > /dev/null: rows/s (prawn's own figure) and peak RSS
#     (/usr/bin/time -v), against a same-run baseline: psql COPY (SELECT * FROM views) TO STDOUT;
#   - prawn import of the CSV export into an empty database: views/s and peak RSS; and again
#     (every chunk already in).
# Usage: scripts/bench-transfer.sh [SIZE ...]   (default 1000000 10000000)
# Needs a Postgres server where databases may be created: BENCH_DATABASE_URL (a URL of its
# postgres database; default TEST_DATABASE_URL). Databases bench_t<SIZE> are kept for reruns;
# the import database is recreated each time. CPU-heavy: run it on a quiet machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${BENCH_DATABASE_URL:-${TEST_DATABASE_URL:?set BENCH_DATABASE_URL or TEST_DATABASE_URL}}"
SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(1000000 10000000)
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
BIN="$TMP/prawn"
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$BIN" ./cmd/prawn)
export PRAWN_LOG_LEVEL=warn
url() { local u="${BASE%%\?*}"; echo "${u%/*}/$1?sslmode=disable"; }
rss() { awk -F': ' '/Maximum resident/ {printf "%.1f", $2/1024}' "$1"; }

echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Postgres: $(psql -tAc 'select version()' "$BASE" | cut -d, -f1); prawn $(git -C "$ROOT" describe --always --dirty)"
echo
echo "| views | measurement | time | rate | peak RSS | load before |"
echo "|---:|---|---:|---:|---:|---|"
for n in "${SIZES[@]}"; do
  db="bench_t$n"
  if [[ "$(psql -tAc "select 1 from pg_database where datname = '$db'" "$BASE")" != 1 ]]; then
    psql -qc "create database $db" "$BASE"
  fi
  have="$(DATABASE_URL="$(url "$db")" "$BIN" migrate >/dev/null && psql -tAc 'select count(*) from views' "$(url "$db")")"
  if [[ "$have" != "$n" ]]; then
    psql -qc "drop database $db" -c "create database $db" "$BASE"
    DATABASE_URL="$(url "$db")" "$BIN" seed --views "$n" --days 30 >&2
    DATABASE_URL="$(url "$db")" "$BIN" rollup --batch 500000 >&2
  fi
  load="$(cut -d' ' -f1-3 /proc/loadavg)"
  start=$(date +%s.%N)
  psql -qc "COPY (SELECT * FROM views) TO STDOUT" "$(url "$db")" > /dev/null
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  printf "| %d | baseline: psql COPY (SELECT * FROM views) TO STDOUT > /dev/null | %.1f s | %.0f rows/s | – | %s |\n" "$n" "$secs" "$(echo "$n / $secs" | bc -l)" "$load"
  for f in csv jsonl; do
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    /usr/bin/time -v env DATABASE_URL="$(url "$db")" "$BIN" export --format "$f" > /dev/null 2> "$TMP/time"
    line="$(grep '^exported' "$TMP/time")"
    secs="$(sed -E 's/.* in ([0-9.]+)(m?s) .*/\1 \2/' <<<"$line")"
    rate="$(sed -E 's/.*\(([0-9]+) rows\/s\).*/\1/' <<<"$line")"
    printf "| %d | prawn export --format %s > /dev/null | %s | %s rows/s | %s MB | %s |\n" "$n" "$f" "$secs" "$rate" "$(rss "$TMP/time")" "$load"
  done
  if [[ "$n" -le 1000000 ]]; then
    DATABASE_URL="$(url "$db")" "$BIN" export -o "$TMP/views.csv" 2>/dev/null
    imp="bench_timport"
    psql -qc "drop database if exists $imp" -c "create database $imp" "$BASE"
    DATABASE_URL="$(url "$imp")" "$BIN" migrate > /dev/null
    for what in "prawn import (empty database)" "prawn import again (every chunk already in)"; do
      load="$(cut -d' ' -f1-3 /proc/loadavg)"
      /usr/bin/time -v env DATABASE_URL="$(url "$imp")" "$BIN" import "$TMP/views.csv" > "$TMP/out" 2> "$TMP/time"
      secs="$(sed -E 's/.* records in ([0-9.]+)(m?s) .*/\1 \2/' "$TMP/out")"
      rate="$(sed -E 's/.*\(([0-9]+) views\/s\).*/\1/' "$TMP/out")"
      printf "| %d | %s | %s | %s views/s | %s MB | %s |\n" "$n" "$what" "$secs" "$rate" "$(rss "$TMP/time")" "$load"
    done
    DATABASE_URL="$(url "$imp")" "$BIN" verify | tail -1 >&2
    psql -qc "drop database $imp" "$BASE"
  fi
done
