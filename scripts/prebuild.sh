#!/usr/bin/env bash
# Writes prebuilds/linux-<arch>/ipc-kit.glibc.node with prebuildify (Node-API,
# stripped) for each architecture asked for (default: x64 arm64). arm64 is
# cross-compiled with Debian's aarch64-linux-gnu toolchain (installed if missing).
# Builds against this machine's Node headers and never downloads any.
# Each architecture builds in its own scratch copy of binding.gyp + native/,
# in parallel, so build/ (the developer's from-source build) is left alone.
# Usage: scripts/prebuild.sh [x64] [arm64]
set -euo pipefail
cd "$(dirname "$0")/.."

root=$PWD
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x64 arm64)

# Local headers: <prefix>/include/node of the node running this. With nodedir
# set, node-gyp takes headers from there and never fetches a tarball.
nodedir=$(node -p 'require("path").resolve(process.execPath, "../..")')
if [ ! -f "$nodedir/include/node/node_api.h" ]; then
  echo "prebuild: no Node headers in $nodedir/include/node (install your distribution's Node dev package)" >&2
  exit 1
fi
export npm_config_nodedir=$nodedir
# Only Node-API is used, so the target version only names node-gyp's scratch dir.
target=$(node -p process.versions.node)

for arch in "${archs[@]}"; do
  case $arch in
    x64 | arm64) ;;
    *) echo "prebuild: unknown architecture '$arch' (x64, arm64)" >&2; exit 2 ;;
  esac
done
[[ " ${archs[*]} " == *" arm64 "* ]] && scripts/arm64-toolchain.sh

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ipc-kit-prebuild.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

build() { # arch
  local arch=$1 dir=$scratch/$1 env=()
  mkdir -p "$dir"
  # Everything node-gyp reads: the package manifest, binding.gyp and the
  # native folder as a whole (so new sources need no change here).
  cp -r package.json binding.gyp native "$dir/"
  ln -s "$root/node_modules" "$dir/node_modules"
  if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
    env=(CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++
      AR=aarch64-linux-gnu-ar PREBUILD_STRIP_BIN=aarch64-linux-gnu-strip)
  fi
  rm -rf "prebuilds/linux-$arch"
  (cd "$dir" && env "${env[@]}" "$root/node_modules/.bin/prebuildify" --napi --strip --tag-libc \
    --arch "$arch" --target "$target" --cache "$scratch/cache-$arch" --out "$root") \
    >"$scratch/$arch.log" 2>&1 || { cat "$scratch/$arch.log" >&2; echo "prebuild: $arch failed" >&2; return 1; }
}

start=$SECONDS
pids=()
for arch in "${archs[@]}"; do build "$arch" & pids+=($!); done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ $status -eq 0 ] || exit 1

# Check what was made: one ELF per architecture, for the right machine, stripped.
node scripts/check-prebuilds.js "${archs[@]}"
echo "prebuild: ${archs[*]} in $((SECONDS - start)) s"
