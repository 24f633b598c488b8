#!/bin/sh
# `npm run e2e`, the main job: prepares the host (packages, daemons), installs dependencies when
# missing, builds, then runs the example E2E suite (examples/vitest: a VM with serial console,
# SSH and a clone; a container; a test skipped for an unmet need) against the real backends.
# Ends with the example suite's JSON report in test-results/e2e.json.
set -eu
cd "$(dirname "$0")/.."
sh scripts/prepare.sh
exec node_modules/.bin/vitest run --root examples/vitest \
  --reporter=verbose --reporter=json --outputFile.json="$PWD/test-results/e2e.json" "$@"
