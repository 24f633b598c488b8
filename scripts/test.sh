#!/bin/sh
# `npm test`: prepares the host (packages, daemons), installs dependencies when missing,
# builds, then runs every test: unit and integration against the real Docker engine and libvirtd.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-host.sh
if [ ! -x node_modules/.bin/vitest ]; then npm ci; fi
npm run --silent build
mkdir -p test-results
exec npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@"
