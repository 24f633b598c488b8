#!/bin/sh
# What both of the README's commands need first: the host prepared (packages, daemons),
# dependencies installed when missing, and a fresh build (fixtures load testbed from dist/).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-host.sh
if [ ! -x node_modules/.bin/vitest ]; then npm ci; fi
npm run --silent build
mkdir -p test-results
