#!/usr/bin/env bash
# Runs the Lightning web component unit tests (cards/salesforce) with @salesforce/sfdx-lwc-jest.
# Installs the npm packages first (npm ci when the lock file is there, else npm install); needs Node ≥ 18.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
project="$here/cards/salesforce"

if ! command -v npm >/dev/null 2>&1; then
    echo "error: npm not found: install Node.js 18 or newer to run the Lightning component tests" >&2
    exit 2
fi

cd "$project"
stamp="node_modules/.stepwise-installed"
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || { [ -f package-lock.json ] && [ package-lock.json -nt "$stamp" ]; }; then
    # npm ci when the lock file is there; some npm versions refuse a lock file whose optional
    # platform packages (rollup's) they resolve differently, so fall back to npm install.
    if [ ! -f package-lock.json ] || ! npm ci --no-audit --no-fund --loglevel=error 2>/dev/null; then
        npm install --no-audit --no-fund --loglevel=error
    fi
    touch "$stamp"
fi

npm test --silent -- --ci "$@"
