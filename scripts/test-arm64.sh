#!/usr/bin/env bash
# Runs the test suite on the arm64 prebuild: Debian's arm64 Node.js under
# qemu-user, from the .arm64-sysroot folder (made if missing), with
# PREBUILDS_ONLY=1 so prebuilds/linux-arm64 is what loads (built if missing).
# Child Node processes start through IPC_KIT_TEST_NODE (see test/helpers.js),
# so cross-process tests run both sides on arm64.
# Usage: scripts/test-arm64.sh [uvu pattern]   (default: every test/*.test.js)
set -euo pipefail
cd "$(dirname "$0")/.."
pattern=${1:-'\.test\.js$'}

scripts/arm64-toolchain.sh --qemu
scripts/arm64-sysroot.sh
[ -n "$(ls prebuilds/linux-arm64/*.node 2>/dev/null)" ] || scripts/prebuild.sh arm64
[ -f dist/index.js ] || npm run build

S=$PWD/.arm64-sysroot/root
node=(qemu-aarch64 -L "$S" "$S/usr/bin/node")
export PREBUILDS_ONLY=1 IPC_KIT_TEST_NODE="${node[*]}"

# Prove what runs: an arm64 Node loading the arm64 prebuild.
"${node[@]}" -e '
  const file = require("node-gyp-build").resolve(".")
  require(".")
  console.log(`test:arm64: node ${process.version} ${process.arch}, ${require("path").relative(".", file)}`)
  if (process.arch !== "arm64" || !file.includes("linux-arm64")) process.exit(1)'

start=$SECONDS
"${node[@]}" node_modules/uvu/bin.js test "$pattern"
echo "test:arm64: suite took $((SECONDS - start)) s under emulation"
