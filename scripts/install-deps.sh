#!/usr/bin/env bash
# install-deps.sh — installs what Kindred needs on Debian 12 when it is missing.
# Quiet and quick when everything is there. As root it runs apt-get; otherwise it prints the
# exact command to run and exits 1. Usage: scripts/install-deps.sh [build|test|fuzz]...
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libhiredis-dev libspdlog-dev libfmt-dev libsodium-dev libssl-dev
  libgtest-dev libgmock-dev
  redis-server curl
  # The network-impairment reliability test shapes a link between network namespaces with nft.
  nftables
  # The browser tests (web/test/browser) drive Debian's Chromium headless via playwright-core.
  chromium
  # The local TLS cluster (make cluster, deploy/local/) and its test: nginx in front, a
  # self-signed certificate made with openssl. Both run as the invoking user, never as services.
  # The deployment files' consistency check (deploy/test/) is Python with PyYAML.
  nginx openssl python3 python3-yaml
)
# The web client's packages come from npm (web/package-lock.json, `npm ci`): Node.js and npm
# from Debian unless a Node.js is already installed (e.g. from NodeSource).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi
for extra in "$@"; do
  case "$extra" in
    fuzz) packages+=(clang libclang-rt-dev) ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "Kindred needs these Debian packages: ${missing[*]}" >&2
  echo "Run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "apt-get failed; the log is above" >&2
  exit 1
fi
rm -f "$log"
# Debian starts a system-wide redis-server (and nginx) on install where systemd runs; Kindred
# starts its own on a private socket (and its own nginx with its own config) and needs neither.
