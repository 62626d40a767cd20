#!/usr/bin/env bash
# Refreshes what internal/badge takes from shields.io's renderer, from the npm registry:
#   data/*.json          the character width tables of anafanafo (badge-maker's text measurer), with its LICENSE
#   widths.bin.gz        the same tables, compacted for embedding (go run ./gen)
#   testdata/badge-maker.json   badge-maker's own SVGs for the cases of testdata/cases.json, which
#                        TestMatchesBadgeMaker compares with this package's, byte for byte
# Usage: internal/badge/update.sh   (needs node and npm; pinned versions below)
set -euo pipefail
BADGE_MAKER=6.0.0
ANAFANAFO=2.0.0 # the version badge-maker $BADGE_MAKER depends on
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent "badge-maker@$BADGE_MAKER" "anafanafo@$ANAFANAFO"
got="$(node -p 'require("anafanafo/package.json").version')"
[[ "$got" == "$ANAFANAFO" ]] || { echo "badge-maker $BADGE_MAKER uses anafanafo $got, not $ANAFANAFO" >&2; exit 1; }
for f in verdana-11px-normal verdana-10px-normal verdana-10px-bold; do
  cp "node_modules/anafanafo/data/$f.json" "$here/data/$f.json"
done
cp node_modules/anafanafo/LICENSE "$here/data/LICENSE.anafanafo"
cp node_modules/badge-maker/LICENSE-MIT "$here/data/LICENSE.badge-maker"
cp "$here/testdata/badge-maker.mjs" .
node badge-maker.mjs "$here/testdata/cases.json" >"$here/testdata/badge-maker.json"
cd "$here"
go run ./gen
echo "updated from badge-maker $BADGE_MAKER and anafanafo $ANAFANAFO"
