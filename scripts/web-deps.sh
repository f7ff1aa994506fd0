#!/usr/bin/env bash
# web-deps.sh — the web client's npm packages (libsodium-wrappers; playwright-core and axe-core
# for the browser tests), installed exactly from web/package-lock.json with `npm ci`, and only
# when the lockfile changed since the last install. Its postinstall step copies the browser
# builds into web/vendor/ (served as /vendor/). Run by `make run` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/../web"
if ! command -v npm >/dev/null; then
  echo "web: npm not found; install Debian's nodejs and npm (scripts/install-deps.sh does)" >&2
  exit 1
fi
stamp=node_modules/.package-lock.json
if [[ -f $stamp && $stamp -nt package-lock.json && -d vendor ]]; then
  # The pre-compressed copies follow edits to the pages (cheap: a few hundred KB).
  node scripts/vendor.mjs >/dev/null
  exit 0
fi
echo "web: npm ci (web/package-lock.json)"
npm ci --no-audit --no-fund --loglevel=error
