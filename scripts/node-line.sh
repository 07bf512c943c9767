#!/usr/bin/env bash
# Prints the path of the official Node.js binary of one release line for one
# architecture, taken from npm's node-linux-<arch> package (npm pack, then
# unpacked: nothing is installed). Kept in DIR for the next call (default:
# .node-lines in the package; delete it to undo). The addon uses Node-API
# only, so the same build or prebuild loads in every line.
# Usage: scripts/node-line.sh ARCH MAJOR [DIR]     e.g. scripts/node-line.sh x64 22
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: scripts/node-line.sh x64|arm64 MAJOR [DIR]" >&2; exit 2; }
arch=$1 major=$2
dir=$(realpath -m "${3:-$(dirname "$0")/../.node-lines}")
out=$dir/linux-$arch-$major
if [ ! -x "$out/bin/node" ]; then
  rm -rf "$out"
  mkdir -p "$out"
  tgz=$(cd "$out" && npm pack --silent --no-fund --no-audit "node-linux-$arch@$major" | tail -1)
  tar xzf "$out/$tgz" -C "$out" --strip-components=1 package/bin/node
  rm -f "$out/$tgz"
fi
echo "$out/bin/node"
