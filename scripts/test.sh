#!/bin/sh
# `npm test`: prepares the host and the build, checks types and lint, then runs every test:
# unit, and integration against the real Docker engine and libvirtd.
set -eu
cd "$(dirname "$0")/.."
sh scripts/prepare.sh
npm run --silent typecheck
npm run --silent lint
exec npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@"
