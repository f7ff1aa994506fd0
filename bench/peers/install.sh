#!/usr/bin/env bash
# install.sh — installs the peers' npm packages (bench/peers/node_modules) from the lockfile
# with `npm ci`, only when node_modules is missing or older than package-lock.json. Quiet and
# idempotent: a second run does nothing. Needs node (20 or later) and npm.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
    cat <<'USAGE'
Usage: bench/peers/install.sh [--force]

Installs ws, ioredis, socket.io, @socket.io/redis-adapter and socket.io-client into
bench/peers/node_modules exactly as package-lock.json pins them (npm ci), when node_modules
is missing or older than the lockfile. Prints nothing when there is nothing to do.

  --force      reinstall even when node_modules is up to date
  -h, --help   this help
USAGE
}

force=no
while [[ $# -gt 0 ]]; do
    case $1 in
    --force) force=yes; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

command -v node >/dev/null || { echo "install.sh: node is not installed (20 or later needed)" >&2; exit 1; }
command -v npm >/dev/null || { echo "install.sh: npm is not installed" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
if ((major < 20)); then
    echo "install.sh: node $(node --version) is too old (20 or later needed)" >&2
    exit 1
fi

# npm ci writes node_modules/.package-lock.json last: its age says when the install finished.
stamp=$here/node_modules/.package-lock.json
if [[ $force == no && -f $stamp && ! $here/package-lock.json -nt $stamp ]]; then
    exit 0
fi
cd "$here"
if ! out=$(npm ci --no-audit --no-fund --loglevel=error 2>&1); then
    echo "install.sh: npm ci failed:" >&2
    echo "$out" >&2
    exit 1
fi
touch "$stamp"
