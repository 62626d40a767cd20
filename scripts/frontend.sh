#!/usr/bin/env bash
# Builds and tests prawn's frontend (frontend/). The Makefile calls it:
#   scripts/frontend.sh build     npm ci if needed, generate the API client, type-check, vite build → frontend/dist/app
#                                 (the page, the API reference, and the tracker count.js; fails if count.js > 1 KB gzipped)
#   scripts/frontend.sh generate  API client frontend/src/api/schema.d.ts from api/openapi.yaml (deterministic)
#   scripts/frontend.sh test      build, Vitest unit tests, then the browser end-to-end tests (frontend/e2e/e2e.mjs:
#                                 the page; frontend/e2e/embed.mjs: the tracker, pixel and badges on another site)
# The end-to-end test builds and starts the real `prawn serve`; it uses TEST_DATABASE_URL or DATABASE_URL
# (a fresh database on that server) when set, else prawn's embedded Postgres in a temp folder.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FRONTEND="$ROOT/frontend"
cd "$FRONTEND"

# Keep swagger-ui-dist's analytics dependency (@scarf/scarf) quiet.
export SCARF_ANALYTICS=false

# install runs `npm ci` when node_modules is missing or older than package-lock.json.
install() {
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    echo "frontend: npm ci"
    npm ci --no-audit --no-fund
  fi
}

generate() {
  install
  npx --no-install openapi-typescript ../api/openapi.yaml --output src/api/schema.d.ts
}

build() {
  generate
  npx --no-install tsc --noEmit -p tsconfig.json
  npx --no-install tsc --noEmit -p tsconfig.node.json
  npx --no-install vite build
}

# ensure_chromium installs Debian's Chromium when it is missing (playwright-core drives it; never
# `npx playwright install`, which downloads browsers from elsewhere).
ensure_chromium() {
  if [[ -x /usr/bin/chromium ]]; then return; fi
  echo "frontend: installing chromium with apt-get"
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium
}

run_tests() {
  build
  npx --no-install vitest run
  ensure_chromium
  # Bounded: the test stops itself well before this; the timeout is the backstop.
  timeout --kill-after=10s 300s node e2e/e2e.mjs
  timeout --kill-after=10s 240s node e2e/embed.mjs
  # Private stats (PRAWN_STATS=private): the token prompt.
  timeout --kill-after=10s 300s node e2e/private.mjs
}

case "${1:-}" in
  build) build ;;
  generate) generate ;;
  test) run_tests ;;
  *)
    echo "usage: $0 build|generate|test" >&2
    exit 2
    ;;
esac
