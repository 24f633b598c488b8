#!/bin/sh
# `npm test`: prepares the host and the build, then runs every test: unit, and integration
# against the real Docker engine and libvirtd.
set -eu
cd "$(dirname "$0")/.."
sh scripts/prepare.sh
exec npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@"
