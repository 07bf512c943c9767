#!/usr/bin/env bash
# Runs the test suite on the arm64 prebuild: Debian's arm64 Node.js under
# qemu-user, from the .arm64-sysroot folder (made if missing), with
# PREBUILDS_ONLY=1 so prebuilds/linux-arm64 is what loads (built if missing).
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
scripts/arm64-sysroot.sh
# (Re)build what is missing or older than its sources.
bin=$(ls prebuilds/linux-arm64/*.node 2>/dev/null | head -1 || true)  # none yet: ls fails (pipefail)
if [ -z "$bin" ] || [ -n "$(find binding.gyp native -newer "$bin" | head -1)" ]; then scripts/prebuild.sh arm64; fi
if [ ! -f dist/index.js ] || [ -n "$(find lib tsconfig.json -newer dist/index.js | head -1)" ]; then npx tsc -p tsconfig.json; fi

S=$PWD/.arm64-sysroot/root
qemu=$(command -v qemu-aarch64)
node=("$qemu" -L "$S" "$S/usr/bin/node")
export PREBUILDS_ONLY=1 IPC_KIT_TEST_NODE="${node[*]}"

binfmt=/proc/sys/fs/binfmt_misc
entry="" mounted=""
undo_binfmt() {
  [ -z "$entry" ] || echo -1 >"$binfmt/$entry" || true
  rm -f "$S/../qemu-$$"
  # Unmounting drops every entry: only when no one else registered any.
  if [ -n "$mounted" ] && [ -z "$(ls "$binfmt" | grep -vx 'register\|status')" ]; then umount "$binfmt" || true; fi
}
if [ "${IPC_KIT_ARM64_BINFMT:-1}" = 1 ] && [ "$(id -u)" -eq 0 ]; then
  trap undo_binfmt EXIT
  if [ ! -e "$binfmt/register" ] && mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null; then mounted=1; fi
  if [ -w "$binfmt/register" ] && ! grep -qs '^interpreter .*qemu-aarch64' "$binfmt"/*; then
    # The interpreter: qemu with our sysroot, whatever environment a child gets.
    printf '#!/bin/sh\nexec %s -L %s "$@"\n' "$qemu" "$S" >"$S/../qemu-$$"
    chmod 755 "$S/../qemu-$$"
    entry=ipc-kit-arm64-$$
    # ELF 64-bit little-endian, e_machine EM_AARCH64 (0xb7); the kernel parses the \x escapes.
    printf '%s' ":$entry:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:$S/../qemu-$$:" \
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
for f in $files; do
  "${node[@]}" node_modules/uvu/bin.js test "^(${f//./\\.}${tail:+|$tail})\$" || failed+=("$f")
done
echo "test:arm64: $(echo "$files" | wc -l) files in $((SECONDS - start)) s under emulation"
if [ ${#failed[@]} -gt 0 ]; then
  echo "test:arm64: FAILED in ${failed[*]}"
  exit 1
fi
