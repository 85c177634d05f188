#!/usr/bin/env bash
# Install the HubSpot app card's npm dependencies and run its component tests (vitest with
# @hubspot/ui-extensions/testing).  Exits non-zero when npm is missing or a test fails.
set -euo pipefail

cd "$(dirname "$0")/../cards/hubspot/src/app/cards"

if ! command -v npm >/dev/null 2>&1; then
    echo "error: npm not found: the HubSpot card tests need Node 20+ and npm" >&2
    exit 2
fi

# `npm install` rather than `npm ci`: it follows package-lock.json too, and npm 11 refuses `ci` on
# lockfiles that leave out other platforms' optional rollup/esbuild binaries.
npm install --no-audit --no-fund --loglevel=error
npm test
