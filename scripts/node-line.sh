#!/usr/bin/env bash
# Prints the path of the official Node.js binary of one release line for one
# architecture, taken from npm's node-linux-<arch> package (npm pack, then
# unpacked: nothing is installed). Kept in DIR for the next call (default:
# ipc-kit-node-lines-UID in the temp folder; delete it to undo), outside the
# checkout, which may be a folder other users cannot enter: tests start some
# children as nobody with this Node. The addon uses Node-API only, so the
# same build or prebuild loads in every line.
# Usage: scripts/node-line.sh ARCH MAJOR [DIR]     e.g. scripts/node-line.sh x64 22
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: scripts/node-line.sh x64|arm64 MAJOR [DIR]" >&2; exit 2; }
arch=$1 major=$2
dir=$(realpath -m "${3:-${TMPDIR:-/tmp}/ipc-kit-node-lines-$(id -u)}")
mkdir -p -m 755 "$dir"
# What runs from here must be ours: a folder someone else made or can write to is refused.
if [ ! -O "$dir" ] || [ -n "$(find "$dir" -maxdepth 0 -perm /022)" ]; then
  echo "node-line: $dir is not ours alone (owner or write permission): remove it or pass another DIR" >&2
  exit 1
fi
out=$dir/linux-$arch-$major
if [ ! -x "$out/bin/node" ]; then
  rm -rf "$out"
  mkdir -p "$out"
  tgz=$(cd "$out" && npm pack --silent --no-fund --no-audit "node-linux-$arch@$major" | tail -1)
  tar xzf "$out/$tgz" -C "$out" --strip-components=1 package/bin/node
  rm -f "$out/$tgz"
fi
echo "$out/bin/node"
